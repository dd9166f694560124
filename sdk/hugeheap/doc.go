// Package hugeheap asks Linux for transparent huge pages for the first
// 32 MiB of the Go heap; import it for that side effect (nothing elsewhere).
package hugeheap
