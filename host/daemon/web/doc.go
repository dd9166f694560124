// Package web holds the daemon's dashboard: static HTML, CSS and JavaScript
// embedded in the binary, talking to the API with the operator's token.
package web
