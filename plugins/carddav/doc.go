// Command datasync-connector-carddav is the CardDAV connector: the contacts of
// one address book as the object "contacts", read incrementally by sync-collection.
package main
