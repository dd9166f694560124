// Package webapi is the HTTP plumbing web-API connectors share: token-bucket
// rate limits, retries with Retry-After and backoff, and HTTP status → sdk.Error.
package webapi
