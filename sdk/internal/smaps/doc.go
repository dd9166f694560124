// Package smaps reads /proc/self/smaps for the tests of the packages that
// set up huge pages (cmalloc, hugeheap): which mappings ask for them.
package smaps
