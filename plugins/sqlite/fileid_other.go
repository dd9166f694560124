//go:build !unix

package main

import "io/fs"

// fileIdentity is empty where the platform gives no inode: the fingerprint
// then rests on the path alone.
func fileIdentity(fs.FileInfo) string { return "" }
