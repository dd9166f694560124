// Command hubspot-contract-server serves the HubSpot contract server on a
// port, for trying the connector (or the CLI) without a HubSpot account.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8089", "listen address")
	token := flag.String("token", "test-token", "the bearer token accepted")
	perSecond := flag.Int("per-second", 0, "requests per second before 429 (0: no limit)")
	perTen := flag.Int("per-10s", 0, "requests per 10 seconds before 429 (0: no limit)")
	search := flag.Int("search-per-second", 0, "search requests per second before 429 (0: no limit)")
	window := flag.Int("search-window", 10_000, "search paging window")
	flag.Parse()
	srv := hubspottest.New(hubspottest.Options{Token: *token, PerSecond: *perSecond, PerTenSeconds: *perTen,
		SearchPerSecond: *search, SearchWindow: *window})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("HubSpot contract server on http://%s (token %q)", ln.Addr(), *token)
	log.Fatal(http.Serve(ln, srv.Handler()))
}
