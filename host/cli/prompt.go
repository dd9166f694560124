package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/datasync-io/datasync/sdk"
)

// promptFields asks on the terminal for each field, secrets without echo,
// and stores the answers in settings or secrets.
func (e *env) promptFields(fields []sdk.ConfigField, settings, secretVals map[string]string) error {
	in := bufio.NewReader(e.stdin)
	for _, f := range fields {
		label := f.Name
		if f.Label != "" {
			label = f.Label + " (" + f.Name + ")"
		}
		if f.Description != "" {
			label += " - " + f.Description
		}
		fmt.Fprintf(e.stderr, "%s: ", label)
		var v string
		var err error
		if f.Secret {
			v, err = e.readSecret()
			fmt.Fprintln(e.stderr)
		} else {
			v, err = in.ReadString('\n')
			if errors.Is(err, io.EOF) && v != "" {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name, err)
		}
		v = strings.TrimRight(v, "\r\n")
		if v == "" {
			return fmt.Errorf("%s is required", label)
		}
		if f.Secret {
			secretVals[f.Name] = v
		} else {
			settings[f.Name] = v
		}
	}
	return nil
}

// readSecret reads a line from the terminal without echoing it.
func (e *env) readSecret() (string, error) {
	f, ok := e.stdin.(*os.File)
	if !ok {
		return "", errors.New("secrets can only be typed on a terminal")
	}
	b, err := term.ReadPassword(int(f.Fd()))
	return string(b), err
}
