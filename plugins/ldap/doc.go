// Command datasync-connector-ldap is the LDAP connector: the entries of one
// object class under a base DN, with fields from the server's subschema.
package main
