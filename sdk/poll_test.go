package sdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// PollWatch: the first poll is the baseline (its changes are not news), later
// ones become notices, a poll's error ends the watch, cancelling ends it nil,
// and an interval of 0 refuses at once.
func TestPollWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	answers := [][]string{{"baseline"}, nil, {"a", "b"}, nil, {"a"}}
	calls := 0
	notices, done := make(conformance.Notices, 10), make(chan error, 1)
	boom := errors.New("source gone")
	go func() {
		done <- sdk.PollWatch(ctx, time.Millisecond, notices, func(context.Context) ([]string, error) {
			calls++
			if calls > len(answers) {
				return nil, boom
			}
			return answers[calls-1], nil
		})
	}()
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("PollWatch returned %v, want the poll's error", err)
	}
	close(notices)
	var got []string
	for n := range notices {
		got = append(got, n)
	}
	if want := []string{"", "a", "b", "a"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("notices %q, want %q (ready, then each poll's changes, not the baseline's)", got, want)
	}

	notices, done = make(conformance.Notices, 10), make(chan error, 1)
	go func() {
		done <- sdk.PollWatch(ctx, time.Hour, notices, func(context.Context) ([]string, error) { return nil, nil })
	}()
	if n := <-notices; n != "" {
		t.Fatalf("first notice %q, want ready", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("PollWatch returned %v once cancelled, want nil", err)
	}

	var se *sdk.Error
	if err := sdk.PollWatch(context.Background(), 0, notices, nil); !errors.As(err, &se) || se.Category != sdk.CategoryPermanent {
		t.Fatalf("PollWatch with interval 0 = %v, want a permanent error", err)
	}
}

func TestConfigDuration(t *testing.T) {
	for _, c := range []struct {
		set     string
		want    time.Duration
		invalid bool
	}{
		{"", 30 * time.Second, false},
		{"  ", 30 * time.Second, false},
		{"1m", time.Minute, false},
		{"0", 0, false},
		{"-1s", 0, true},
		{"often", 0, true},
	} {
		cfg := sdk.Config{Settings: map[string]string{}}
		if c.set != "" {
			cfg.Settings["watch_poll"] = c.set
		}
		got, err := cfg.Duration("watch_poll", 30*time.Second)
		var se *sdk.Error
		if c.invalid {
			if !errors.As(err, &se) || se.Field != "watch_poll" {
				t.Errorf("Duration(%q) = %v, %v; want a field error on watch_poll", c.set, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Duration(%q) = %v, %v; want %v", c.set, got, err, c.want)
		}
	}
}
