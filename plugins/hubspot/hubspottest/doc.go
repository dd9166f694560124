// Package hubspottest is a contract server for the HubSpot CRM API: an
// in-process HTTP server reproducing the documented shapes the connector uses.
package hubspottest
