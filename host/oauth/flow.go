package oauth

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// DefaultRedirectPath is the path of the loopback redirect URI.
const DefaultRedirectPath = "/callback"

// noBrowserRedirectURI is where the provider sends the browser in --no-browser mode when the
// connection sets no redirect_uri: nothing listens there, and the admin copies the address.
const noBrowserRedirectURI = "http://127.0.0.1" + DefaultRedirectPath

// Flow runs the authorization code grant with PKCE (S256) for one connection: over a loopback
// redirect (RFC 8252) by default, or, with NoBrowser, by the admin pasting the redirect URL or
// the code. It also runs the device grant (RFC 8628, device.go).
type Flow struct {
	Config     *Config
	HTTPClient *http.Client // for token requests; nil: http.DefaultClient
	// Listener receives the loopback redirect; nil: 127.0.0.1 on a random port, or on the port
	// of Config.RedirectURI when that is a loopback URI with one. Start takes ownership of it.
	Listener  net.Listener
	NoBrowser bool
}

// Authorization is one authorization request in progress: show URL to the admin, then Wait
// for the loopback redirect or Complete with what the admin pasted. Close releases it.
type Authorization struct {
	URL         string // open this in a browser
	RedirectURI string // the redirect_uri the request carries (and the exchange repeats)

	flow     *Flow
	state    string
	verifier string

	srv       *http.Server
	path      string
	callbacks chan callback
	closed    chan struct{}
	closeOnce sync.Once
}

// callback is one request to the loopback redirect, answered once Wait has settled it.
type callback struct {
	query url.Values
	reply chan error
}

// Start prepares an authorization request: fresh state and PKCE verifier, the redirect URI, and
// (unless NoBrowser) the loopback listener that will receive the redirect.
func (f *Flow) Start(ctx context.Context) (*Authorization, error) {
	if f.Config == nil || f.Config.AuthURL == "" {
		if f.Listener != nil {
			f.Listener.Close()
		}
		return nil, errors.New("start OAuth2 authorization: the connection has no authorization URL")
	}
	state, err := randomString(32)
	if err != nil {
		return nil, err
	}
	a := &Authorization{flow: f, state: state, verifier: oauth2.GenerateVerifier(),
		callbacks: make(chan callback), closed: make(chan struct{})}
	if f.NoBrowser {
		if f.Listener != nil {
			f.Listener.Close()
		}
		a.RedirectURI = orElse(f.Config.RedirectURI, noBrowserRedirectURI)
	} else if err := a.listen(ctx); err != nil {
		return nil, err
	}
	a.URL = f.Config.oauth2Config(a.RedirectURI).AuthCodeURL(a.state, oauth2.S256ChallengeOption(a.verifier))
	return a, nil
}

// listen opens the loopback listener and serves the redirect path on it.
func (a *Authorization) listen(ctx context.Context) error {
	ln := a.flow.Listener
	addr, path := "127.0.0.1:0", DefaultRedirectPath
	if fixed := a.flow.Config.RedirectURI; fixed != "" {
		u, err := url.Parse(fixed)
		if err != nil || u.Scheme != "http" || !isLoopback(u.Hostname()) {
			if ln != nil {
				ln.Close()
			}
			return fmt.Errorf("redirect URI %q: a loopback redirect must be http://127.0.0.1[:PORT]/PATH "+
				"(use --no-browser for another redirect URI)", fixed)
		}
		addr = net.JoinHostPort(u.Hostname(), orElse(u.Port(), "0"))
		path = orElse(u.Path, "/")
	}
	if ln == nil {
		var err error
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", addr); err != nil {
			return fmt.Errorf("listen for the OAuth2 redirect on %s: %w", addr, err)
		}
	}
	host := ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		// RFC 8252 §7.3: the loopback IP literal, not "localhost".
		host = net.JoinHostPort(tcp.IP.String(), fmt.Sprint(tcp.Port))
	}
	a.RedirectURI = "http://" + host + path
	a.path = path
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serveRedirect), ReadHeaderTimeout: 10 * time.Second}
	go a.srv.Serve(ln) //nolint:errcheck // ends with Close
	return nil
}

// serveRedirect hands a redirect to Wait and shows the admin how it ended.
func (a *Authorization) serveRedirect(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != a.path {
		http.NotFound(w, r)
		return
	}
	cb := callback{query: r.URL.Query(), reply: make(chan error, 1)}
	select {
	case a.callbacks <- cb:
	case <-a.closed:
		page(w, http.StatusGone, "This authorization request is over. Run the datasync command again.")
		return
	case <-r.Context().Done():
		return
	}
	select {
	case err := <-cb.reply:
		if err != nil {
			status := http.StatusBadRequest
			var ae *AuthorizationError
			if !errors.Is(err, ErrStateMismatch) && !errors.As(err, &ae) {
				status = http.StatusBadGateway // the exchange with the provider failed
			}
			page(w, status, "Authorization failed: "+err.Error())
			return
		}
		page(w, http.StatusOK, "Authorized. You can close this window and return to datasync.")
	case <-r.Context().Done():
	}
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>datasync</title><p>%s</p>\n", html.EscapeString(msg))
}

// Wait waits for the loopback redirect, checks it and exchanges its code for a token. The first
// redirect decides: a wrong state or an error parameter ends the flow with that error.
func (a *Authorization) Wait(ctx context.Context) (*oauth2.Token, error) {
	if a.srv == nil {
		return nil, errors.New("wait for the OAuth2 redirect: this authorization has no loopback listener (NoBrowser): use Complete")
	}
	defer a.Close()
	select {
	case cb := <-a.callbacks:
		tok, err := a.finish(ctx, cb.query)
		cb.reply <- err
		return tok, err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the OAuth2 redirect to %s: %w", a.RedirectURI, ctx.Err())
	case <-a.closed:
		return nil, errors.New("wait for the OAuth2 redirect: the authorization was closed")
	}
}

// Complete finishes a NoBrowser authorization with what the admin pasted: the whole redirect URL
// (its state is checked), its query string, or the bare code.
func (a *Authorization) Complete(ctx context.Context, pasted string) (*oauth2.Token, error) {
	defer a.Close()
	s := strings.TrimSpace(pasted)
	switch {
	case s == "":
		return nil, errors.New("complete the OAuth2 authorization: nothing was pasted")
	case strings.Contains(s, "://"):
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("complete the OAuth2 authorization: the pasted redirect URL: %w", err)
		}
		return a.finish(ctx, u.Query())
	case strings.Contains(s, "="):
		q, err := url.ParseQuery(strings.TrimPrefix(s, "?"))
		if err != nil {
			return nil, fmt.Errorf("complete the OAuth2 authorization: the pasted query: %w", err)
		}
		return a.finish(ctx, q)
	case strings.ContainsAny(s, " \t\r\n"):
		return nil, errors.New("complete the OAuth2 authorization: paste the redirect URL or the code alone")
	}
	// A bare code carries no state to check; PKCE still binds it to this request's verifier.
	return a.exchange(ctx, s)
}

// finish checks a redirect's parameters and exchanges its code.
func (a *Authorization) finish(ctx context.Context, q url.Values) (*oauth2.Token, error) {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(a.state)) != 1 {
		return nil, ErrStateMismatch
	}
	if code := q.Get("error"); code != "" {
		return nil, &AuthorizationError{Code: code, Description: q.Get("error_description"), URI: q.Get("error_uri")}
	}
	code := q.Get("code")
	if code == "" {
		return nil, errors.New("the redirect carries neither a code nor an error")
	}
	return a.exchange(ctx, code)
}

func (a *Authorization) exchange(ctx context.Context, code string) (*oauth2.Token, error) {
	conf := a.flow.Config.oauth2Config(a.RedirectURI)
	tok, err := conf.Exchange(withClient(ctx, a.flow.HTTPClient), code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the authorization code at %s: %w", conf.Endpoint.TokenURL, err)
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("exchange the authorization code at %s: the answer has no access token", conf.Endpoint.TokenURL)
	}
	return tok, nil
}

// Close stops the loopback listener; a later redirect is told the request is over.
func (a *Authorization) Close() error {
	var err error
	a.closeOnce.Do(func() {
		close(a.closed)
		if a.srv != nil {
			// Let the page of the redirect just handled reach the browser.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err = a.srv.Shutdown(ctx); err != nil {
				err = a.srv.Close()
			}
		}
	})
	return err
}

// Run is the whole code flow for a terminal: it prints the URL to out, then waits for the
// loopback redirect, or (NoBrowser) reads the pasted redirect URL or code from in.
func (f *Flow) Run(ctx context.Context, out io.Writer, in io.Reader) (*oauth2.Token, error) {
	a, err := f.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if !f.NoBrowser {
		fmt.Fprintf(out, "Open this URL in a browser on this machine to authorize datasync:\n\n  %s\n\n"+
			"Waiting for the redirect to %s ...\n", a.URL, a.RedirectURI)
		return a.Wait(ctx)
	}
	fmt.Fprintf(out, "Open this URL in any browser to authorize datasync:\n\n  %s\n\n"+
		"The browser then goes to %s..., which may show an error page: copy the whole address from its\n"+
		"address bar (or just the code parameter) and paste it here: ", a.URL, a.RedirectURI)
	line, err := readLine(ctx, in)
	if err != nil {
		return nil, err
	}
	return a.Complete(ctx, line)
}

// readLine reads one line from in, giving up when ctx ends (the reader goroutine then stays
// blocked until in yields: a terminal read cannot be interrupted).
func readLine(ctx context.Context, in io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return "", fmt.Errorf("read the pasted redirect URL or code: %w", r.err)
		}
		return r.line, nil
	case <-ctx.Done():
		return "", fmt.Errorf("read the pasted redirect URL or code: %w", ctx.Err())
	}
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
