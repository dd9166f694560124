// Package memory is the in-memory reference connector: contacts-like object
// types kept in process (or in a JSON file), for engine tests and as a plugin.
package memory
