package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/oauth2"
)

// StartDevice asks the provider for a device and user code (RFC 8628 §3.1). A confidential
// client authenticates with client_secret in the form (client_secret_post).
func (f *Flow) StartDevice(ctx context.Context) (*oauth2.DeviceAuthResponse, error) {
	if f.Config == nil || f.Config.DeviceAuthURL == "" {
		return nil, errors.New("start the device authorization: the provider declares no device authorization URL")
	}
	conf := f.Config.oauth2Config("")
	var opts []oauth2.AuthCodeOption
	if f.Config.ClientSecret != "" {
		opts = append(opts, oauth2.SetAuthURLParam("client_secret", f.Config.ClientSecret))
	}
	da, err := conf.DeviceAuth(withClient(ctx, f.HTTPClient), opts...)
	if err != nil {
		return nil, fmt.Errorf("start the device authorization at %s: %w", f.Config.DeviceAuthURL, err)
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, fmt.Errorf("start the device authorization at %s: the answer lacks device_code, user_code "+
			"or verification_uri", f.Config.DeviceAuthURL)
	}
	return da, nil
}

// PollDevice polls the token endpoint until the user approves the device code (RFC 8628 §3.4,
// §3.5): it waits the interval, slows down by 5 s on slow_down, keeps polling on
// authorization_pending, and stops on access_denied (an *AuthorizationError), on expired_token
// or the code's expiry (ErrDeviceCodeExpired), or when ctx ends.
func (f *Flow) PollDevice(ctx context.Context, da *oauth2.DeviceAuthResponse) (*oauth2.Token, error) {
	tok, err := f.Config.oauth2Config("").DeviceAccessToken(withClient(ctx, f.HTTPClient), da)
	if err == nil {
		if tok.AccessToken == "" {
			return nil, fmt.Errorf("poll %s for the device authorization: the answer has no access token", f.Config.TokenURL)
		}
		return tok, nil
	}
	var re *oauth2.RetrieveError
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("wait for the device authorization: %w", ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		// DeviceAccessToken bounds the polling by the code's expiry.
		return nil, ErrDeviceCodeExpired
	case errors.As(err, &re) && re.ErrorCode == "expired_token":
		return nil, ErrDeviceCodeExpired
	case errors.As(err, &re) && re.ErrorCode != "":
		return nil, &AuthorizationError{Code: re.ErrorCode, Description: re.ErrorDescription, URI: re.ErrorURI}
	}
	return nil, fmt.Errorf("poll %s for the device authorization: %w", f.Config.TokenURL, err)
}

// RunDevice is the device grant for a terminal: it prints where to go and the code to enter,
// then polls until the user approves.
func (f *Flow) RunDevice(ctx context.Context, out io.Writer) (*oauth2.Token, error) {
	da, err := f.StartDevice(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "On any device, open\n\n  %s\n\nand enter the code\n\n  %s\n\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(out, "(or open %s, which carries the code)\n", da.VerificationURIComplete)
	}
	if !da.Expiry.IsZero() {
		fmt.Fprintf(out, "The code expires at %s. Waiting for approval ...\n", da.Expiry.Local().Format("15:04:05"))
	}
	return f.PollDevice(ctx, da)
}
