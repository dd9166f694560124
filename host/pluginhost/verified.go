package pluginhost

import (
	"os"
	"path/filepath"
)

// A launch checks the plugin binary against its manifest's SHA-256, which
// means reading and hashing some 25 MB: ~40 ms of CPU on every run, for two
// plugins. A successful check is remembered beside the binary, keyed by the
// file's identity (device, inode, size, modification and change times).
// Any change to the binary since, even one that restores its mtime, gives
// it a new change time, so it is hashed again. The record is no weaker
// than the manifest it sits beside: whoever can rewrite the binary there
// can rewrite the manifest's checksum too.
const verifiedFile = ".verified"

// verifiedLine is what the record holds for a binary at path with checksum
// sum: "" when the file's identity cannot be read (then nothing is cached).
func verifiedLine(path, sum string) string {
	id := fileIdentity(path)
	if id == "" {
		return ""
	}
	return sum + " " + id + "\n"
}

// wasVerified reports whether the binary at path, as it is now, was checked
// against sum before.
func wasVerified(path, sum string) bool {
	line := verifiedLine(path, sum)
	if line == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), verifiedFile))
	return err == nil && string(b) == line
}

// rememberVerified records that the binary at path was checked against sum.
// Failing to (a read-only plugins directory) only costs the next launch a
// hash.
func rememberVerified(path, sum string) {
	line := verifiedLine(path, sum)
	if line == "" {
		return
	}
	dst := filepath.Join(filepath.Dir(path), verifiedFile)
	tmp, err := os.CreateTemp(filepath.Dir(path), verifiedFile+".*")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(line)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), dst) != nil {
		os.Remove(tmp.Name())
	}
}
