// Command datasync-connector-hubspot is the HubSpot CRM connector: contacts,
// companies and custom objects through HubSpot's CRM v3 API.
package main
