package engine

import (
	"time"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/syncdef"
)

// decision is what the merge does with one mapped field of one link.
type decision uint8

const (
	decKeep     decision = iota // nothing to write: the base becomes the current values
	decToRight                  // write the left value to the right
	decToLeft                   // write the right value to the left
	decConflict                 // manual rule: keep the old base, list the conflict
	decSkip                     // a side's value is unknown this run: leave the field alone
)

func (d decision) String() string {
	return [...]string{"keep", "to-right", "to-left", "conflict", "skip"}[d]
}

// fieldState is everything the three-way merge of one field looks at.
type fieldState struct {
	HasBase         bool
	LeftChanged     bool // the left value differs from the left base (normalized)
	RightChanged    bool
	Same            bool // left and right hold the same value (normalized, across the mapping)
	LeftEmpty       bool
	RightEmpty      bool
	ToRight, ToLeft bool // may a change flow that way (direction, read-only)
	Rule            mapping.Rule
	LeftModified    time.Time
	RightModified   time.Time
	SkewWindow      time.Duration
	SourceOfTruth   string // "left" or "right"
}

// decide is the field-level three-way merge. One-sided changes always flow
// where they may, whatever the clocks say; real differences go to the rule;
// on a first match (no base) an empty value never overwrites a filled one.
func decide(s fieldState) decision {
	if s.Same {
		return decKeep
	}
	if !s.HasBase {
		switch {
		case s.LeftEmpty && s.RightEmpty:
			return decKeep
		case s.LeftEmpty:
			return flow(decToLeft, s)
		case s.RightEmpty:
			return flow(decToRight, s)
		}
		return resolve(s)
	}
	switch {
	case !s.LeftChanged && !s.RightChanged:
		return decKeep
	case s.LeftChanged && !s.RightChanged:
		return flow(decToRight, s)
	case s.RightChanged && !s.LeftChanged:
		return flow(decToLeft, s)
	}
	return resolve(s)
}

// flow returns d when the field may flow that way (and, under fill-only,
// the receiving value is empty); otherwise the divergence is kept.
func flow(d decision, s fieldState) decision {
	if d == decToRight && s.ToRight && (s.Rule != mapping.RuleFillOnly || s.RightEmpty) {
		return d
	}
	if d == decToLeft && s.ToLeft && (s.Rule != mapping.RuleFillOnly || s.LeftEmpty) {
		return d
	}
	return decKeep
}

// resolve settles a field changed differently on both sides.
func resolve(s fieldState) decision {
	switch {
	case !s.ToRight && !s.ToLeft:
		return decKeep
	case !s.ToLeft: // one-way: the source side wins
		return flow(decToRight, s)
	case !s.ToRight:
		return flow(decToLeft, s)
	}
	switch s.Rule {
	case mapping.RulePreferLeft:
		return decToRight
	case mapping.RulePreferRight:
		return decToLeft
	case mapping.RuleFillOnly:
		if s.RightEmpty {
			return decToRight
		}
		if s.LeftEmpty {
			return decToLeft
		}
		return decKeep
	case mapping.RuleManual:
		return decConflict
	}
	// most-recent: the later change wins, unless the two are too close for
	// two apps' clocks to tell apart; then the source of truth wins.
	l, r := s.LeftModified, s.RightModified
	if !l.IsZero() && !r.IsZero() {
		if d := l.Sub(r); d > s.SkewWindow {
			return decToRight
		} else if -d > s.SkewWindow {
			return decToLeft
		}
	}
	if s.SourceOfTruth == syncdef.Right {
		return decToLeft
	}
	return decToRight
}

func timeDuration(d syncdef.Duration) time.Duration { return time.Duration(d) }
