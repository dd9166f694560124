package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// statusError is a non-2xx HTTP answer. davClient returns it from every
// request, so callers (and go-webdav, which passes it through) can tell a 401
// from a 412 without parsing messages.
type statusError struct {
	Code   int
	Method string
	Path   string
	Body   string
	// RetryAfter is the Retry-After of a 429 or 503, in seconds.
	RetryAfter int
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

func httpStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// davClient sends authenticated requests to one server and turns non-2xx
// answers into *statusError. It implements webdav.HTTPClient.
type davClient struct {
	http     *http.Client
	base     *url.URL
	username string
	password string
}

func (c *davClient) Do(req *http.Request) (*http.Response, error) {
	if c.username != "" || c.password != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg := strings.TrimSpace(string(body))
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			msg = "" // HTML or XML error pages only add noise
		}
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return nil, &statusError{Code: resp.StatusCode, Method: req.Method, Path: req.URL.Path, Body: msg, RetryAfter: ra}
	}
	return resp, nil
}

// urlFor resolves an absolute path on the server.
func (c *davClient) urlFor(path string) string {
	u := *c.base
	u.Path, u.RawPath = path, ""
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// request sends method to path with body and headers; the caller closes the
// response body.
func (c *davClient) request(ctx context.Context, method, path string, body []byte, hdr map[string]string) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.urlFor(path), r)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.Do(req)
}

// multistatus is the subset of a 207 answer the connector reads.
type multistatus struct {
	Responses []davResponse `xml:"DAV: response"`
	SyncToken string        `xml:"DAV: sync-token"`
}

type davResponse struct {
	Hrefs     []string      `xml:"DAV: href"`
	Status    string        `xml:"DAV: status"`
	Propstats []davPropstat `xml:"DAV: propstat"`
}

type davPropstat struct {
	Status string `xml:"DAV: status"`
	Prop   struct {
		ETag         string `xml:"DAV: getetag"`
		SyncToken    string `xml:"DAV: sync-token"`
		CTag         string `xml:"http://calendarserver.org/ns/ getctag"`
		LastModified string `xml:"DAV: getlastmodified"`
		AddressData  string `xml:"urn:ietf:params:xml:ns:carddav address-data"`
		ResourceType struct {
			Collection  *struct{} `xml:"DAV: collection"`
			AddressBook *struct{} `xml:"urn:ietf:params:xml:ns:carddav addressbook"`
		} `xml:"DAV: resourcetype"`
	} `xml:"DAV: prop"`
}

// path returns the decoded path of the response's href.
func (r davResponse) path() (string, error) {
	if len(r.Hrefs) == 0 {
		return "", errors.New("multistatus response without href")
	}
	u, err := url.Parse(strings.TrimSpace(r.Hrefs[0]))
	if err != nil {
		return "", fmt.Errorf("href %q: %w", r.Hrefs[0], err)
	}
	return u.Path, nil
}

// statusCode parses "HTTP/1.1 404 Not Found"; 0 when absent.
func statusCode(s string) int {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0
	}
	var code int
	fmt.Sscanf(f[1], "%d", &code)
	return code
}

// ok returns the props of the 200 propstat and whether the resource exists.
func (r davResponse) ok() (davPropstat, bool) {
	if c := statusCode(r.Status); c != 0 && c != 200 {
		return davPropstat{}, false
	}
	for _, ps := range r.Propstats {
		if c := statusCode(ps.Status); c == 200 || c == 0 {
			return ps, true
		}
	}
	return davPropstat{}, len(r.Propstats) == 0 && r.Status != ""
}

// xmlRequest sends an XML body and decodes the 207 answer.
func (c *davClient) xmlRequest(ctx context.Context, method, path, depth, body string) (*multistatus, error) {
	hdr := map[string]string{"Content-Type": `application/xml; charset="utf-8"`}
	if depth != "" {
		hdr["Depth"] = depth
	}
	resp, err := c.request(ctx, method, path, []byte(body), hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, fmt.Errorf("%s %s: want 207 Multi-Status, got %s", method, path, resp.Status)
	}
	var ms multistatus
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("%s %s: decode multistatus: %w", method, path, err)
	}
	return &ms, nil
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// hrefFor escapes an absolute path for an href element.
func hrefFor(path string) string {
	return xmlEscape((&url.URL{Path: path}).EscapedPath())
}

// categorize turns a transport or HTTP failure into an *sdk.Error.
func categorize(err error, what string) error {
	if err == nil {
		return nil
	}
	var se *statusError
	if errors.As(err, &se) {
		switch c := se.Code; {
		case c == http.StatusUnauthorized:
			return &sdk.Error{Category: sdk.CategoryAuth, Message: "authentication failed: check username and password"}
		case c == http.StatusForbidden:
			return sdk.Errorf(sdk.CategoryForbidden, "%s: %v", what, err)
		case c == http.StatusNotFound || c == http.StatusGone:
			return sdk.Errorf(sdk.CategoryNotFound, "%s: %v", what, err)
		case c == http.StatusPreconditionFailed:
			return sdk.Errorf(sdk.CategoryConflict, "%s: changed since it was read: %v", what, err)
		case c == http.StatusTooManyRequests:
			return sdk.RateLimited(time.Duration(max(se.RetryAfter, 1))*time.Second, "%s: %v", what, err)
		case c == http.StatusRequestTimeout || c == http.StatusServiceUnavailable || c == http.StatusBadGateway ||
			c == http.StatusGatewayTimeout || c == http.StatusInsufficientStorage || c >= 500:
			return sdk.Errorf(sdk.CategoryTransient, "%s: %v", what, err)
		}
		return sdk.Errorf(sdk.CategoryPermanent, "%s: %v", what, err)
	}
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &de) {
		return sdk.Errorf(sdk.CategoryUnreachable, "%s: %v", what, err)
	}
	if errors.As(err, &ne) && ne.Timeout() {
		return sdk.Errorf(sdk.CategoryTransient, "%s: %v", what, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return sdk.Errorf(sdk.CategoryTransient, "%s: %v", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
