package engine

import (
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/mapping"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	two := func(rule mapping.Rule) fieldState {
		return fieldState{HasBase: true, ToRight: true, ToLeft: true, Rule: rule, SkewWindow: 5 * time.Second, SourceOfTruth: "left"}
	}
	both := func(s fieldState) fieldState { s.LeftChanged, s.RightChanged = true, true; return s }
	with := func(s fieldState, f func(*fieldState)) fieldState { f(&s); return s }
	cases := []struct {
		name string
		in   fieldState
		want decision
	}{
		{"nothing changed", two(mapping.RuleMostRecent), decKeep},
		{"same value both sides", with(both(two(mapping.RulePreferLeft)), func(s *fieldState) { s.Same = true }), decKeep},
		{"left changed flows right", with(two(mapping.RuleMostRecent), func(s *fieldState) { s.LeftChanged = true }), decToRight},
		{"right changed flows left", with(two(mapping.RuleMostRecent), func(s *fieldState) { s.RightChanged = true }), decToLeft},
		{"one-sided change flows whatever the clocks", with(two(mapping.RuleMostRecent), func(s *fieldState) {
			s.LeftChanged, s.LeftModified, s.RightModified = true, t0, t0.Add(time.Hour)
		}), decToRight},
		{"one-sided change against prefer-right still flows", with(two(mapping.RulePreferRight), func(s *fieldState) { s.LeftChanged = true }), decToRight},
		{"most-recent: right later", with(both(two(mapping.RuleMostRecent)), func(s *fieldState) {
			s.LeftModified, s.RightModified = t0, t0.Add(time.Minute)
		}), decToLeft},
		{"most-recent: left later", with(both(two(mapping.RuleMostRecent)), func(s *fieldState) {
			s.LeftModified, s.RightModified = t0.Add(time.Minute), t0
		}), decToRight},
		{"most-recent within skew: source of truth left", with(both(two(mapping.RuleMostRecent)), func(s *fieldState) {
			s.LeftModified, s.RightModified = t0, t0.Add(2*time.Second)
		}), decToRight},
		{"most-recent within skew: source of truth right", with(both(two(mapping.RuleMostRecent)), func(s *fieldState) {
			s.LeftModified, s.RightModified, s.SourceOfTruth = t0.Add(2*time.Second), t0, "right"
		}), decToLeft},
		{"most-recent without clocks: source of truth", with(both(two(mapping.RuleMostRecent)), func(s *fieldState) { s.SourceOfTruth = "right" }), decToLeft},
		{"prefer-left", both(two(mapping.RulePreferLeft)), decToRight},
		{"prefer-right", both(two(mapping.RulePreferRight)), decToLeft},
		{"manual", both(two(mapping.RuleManual)), decConflict},
		{"fill-only both filled", both(two(mapping.RuleFillOnly)), decKeep},
		{"fill-only fills empty right", with(both(two(mapping.RuleFillOnly)), func(s *fieldState) { s.RightEmpty = true }), decToRight},
		{"fill-only one-sided change never overwrites", with(two(mapping.RuleFillOnly), func(s *fieldState) { s.LeftChanged = true }), decKeep},
		{"fill-only one-sided change fills empty", with(two(mapping.RuleFillOnly), func(s *fieldState) { s.LeftChanged, s.RightEmpty = true, true }), decToRight},
		{"first match: empty left never overwrites", with(two(mapping.RulePreferLeft), func(s *fieldState) { s.HasBase, s.LeftEmpty = false, true }), decToLeft},
		{"first match: empty right never overwrites", with(two(mapping.RulePreferRight), func(s *fieldState) { s.HasBase, s.RightEmpty = false, true }), decToRight},
		{"first match: both empty", with(two(mapping.RuleMostRecent), func(s *fieldState) { s.HasBase, s.LeftEmpty, s.RightEmpty = false, true, true }), decKeep},
		{"first match: difference goes to the rule", with(two(mapping.RulePreferRight), func(s *fieldState) { s.HasBase = false }), decToLeft},
		{"first match: manual", with(two(mapping.RuleManual), func(s *fieldState) { s.HasBase = false }), decConflict},
		{"later, clearing is a change", with(two(mapping.RuleMostRecent), func(s *fieldState) { s.LeftChanged, s.LeftEmpty = true, true }), decToRight},
		{"one-way: target edit kept", with(two(mapping.RuleMostRecent), func(s *fieldState) { s.ToLeft, s.RightChanged = false, true }), decKeep},
		{"one-way: source wins both-changed", with(both(two(mapping.RulePreferRight)), func(s *fieldState) { s.ToLeft = false }), decToRight},
		{"one-way right-to-left: source wins", with(both(two(mapping.RulePreferLeft)), func(s *fieldState) { s.ToRight = false }), decToLeft},
		{"read-only both ways", with(both(two(mapping.RulePreferLeft)), func(s *fieldState) { s.ToRight, s.ToLeft = false, false }), decKeep},
		{"read-only target blocks one-sided change", with(two(mapping.RuleMostRecent), func(s *fieldState) { s.ToRight, s.LeftChanged = false, true }), decKeep},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(c.in); got != c.want {
				t.Fatalf("decide(%+v) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}
