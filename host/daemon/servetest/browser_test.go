package servetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser; in CI a missing one fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("DATASYNC_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "headless Chromium not found: install the Debian package chromium (scripts/services/install.sh) or set DATASYNC_CHROMIUM"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The dashboard in a real browser: sign in with the token, run the sync,
// see the failing record's value and remedy, fix the data in the app, press
// retry, and see the sync turn green.
func TestDashboardInChromium(t *testing.T) {
	bin := chromiumPath(t)
	home := t.TempDir()
	crm, news := newDB(t, "crm.db", crmSchema), newDB(t, "news.db", newsSchema)
	crm.exec(`INSERT INTO contacts (email, first_name, updated_at) VALUES ('ann@example.com', 'Ann', ?), ('not-an-email', 'Dora', ?)`,
		stamp0, stamp0)
	setup(t, home, crm, news)
	s := serve(t, home)

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
	)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer tcancel()

	card := `.card[data-sync="cn"]`
	status := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`document.querySelector('`+card+`')?.dataset.status === "`+want+`"`,
			chromedp.WithPollingTimeout(45*time.Second))
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nserve log:\n%s", what, err, tail(s.logText(), 30))
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}

	// A wrong token is refused; the right one shows the sync.
	step("open the dashboard", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	step("sign in with a wrong token", chromedp.SendKeys(chromedp.ID("token"), "wrong"), chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("login-error")))
	step("sign in", chromedp.SendKeys(chromedp.ID("token"), s.token), chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.CSS(card)))

	// Run now: one record fails validation.
	step("run now", chromedp.Click(chromedp.CSS(card+" button.run")), status("failing"))
	if got := text(card + " .stat.failing b"); got != "1" {
		t.Fatalf("failing count %q, want 1", got)
	}
	step("open the sync", chromedp.Click(chromedp.CSS(card+" button.name")),
		chromedp.WaitVisible(chromedp.CSS(`.group[data-category="validation"] .hint`)))
	hint := text(`.group[data-category="validation"] .hint`)
	row := text(`.group[data-category="validation"] tr.record`)
	if !strings.Contains(hint, "correct the value") || !strings.Contains(row, "not-an-email") || !strings.Contains(row, "email") {
		t.Fatalf("error group shows hint %q and record %q: want the remedy, the field and the value", hint, row)
	}
	// Drill into the record: its error with attempts.
	step("open the record", chromedp.Click(chromedp.CSS(`.group[data-category="validation"] tr.record a`)),
		chromedp.WaitVisible(chromedp.CSS(`#history h3`)))
	if h := text(`#history`); !strings.Contains(h, "validation") || !strings.Contains(h, "not-an-email") {
		t.Fatalf("record history shows %q", h)
	}

	screenshot(t, ctx, "failing")

	// Fix the data in the app, press retry: the sync turns green.
	crm.exec(`UPDATE contacts SET email = 'dora@example.com', updated_at = ? WHERE email = 'not-an-email'`,
		time.Now().UTC().Format("2006-01-02 15:04:05.000000"))
	step("retry", chromedp.Click(chromedp.CSS(card+" button.retry")), status("healthy"),
		chromedp.WaitVisible(chromedp.CSS(`.no-errors`)))
	screenshot(t, ctx, "fixed")
	if got := text(card + " .stat.failing b"); got != "0" {
		t.Fatalf("failing count %q after the fix, want 0", got)
	}
	if got := text(card + " .stat.syncing b"); got != "2" {
		t.Fatalf("syncing count %q after the fix, want 2", got)
	}
	if n := news.int(`SELECT COUNT(*) FROM subscribers WHERE email IN ('ann@example.com', 'dora@example.com')`); n != 2 {
		t.Fatalf("%d of 2 contacts arrived", n)
	}
	// The activity chart drew a bar per run with records.
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".chart svg rect").length`))
	if err != nil || bars < 2 {
		t.Fatalf("chart has %d bars (%v), want created and failed bars", bars, err)
	}
}

// screenshot saves the page as $DATASYNC_SCREENSHOTS/NAME.png when that
// directory is set, to look at the dashboard by eye.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("DATASYNC_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Error(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
