package main

import (
	"fmt"
	"time"
)

// fields are the generated contacts' columns, in order: ten text fields.
var fields = []string{"email", "first_name", "last_name", "phone", "company", "city", "country",
	"lifecycle_stage", "owner", "source"}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Katherine", "Margaret", "Edsger", "Barbara", "Linus",
		"Radia", "Donald", "Frances", "Ken", "Dennis", "Leslie", "Shafi", "Tim", "Vint", "Hedy", "Annie", "John"}
	lastNames = []string{"Lovelace", "Hopper", "Turing", "Johnson", "Hamilton", "Dijkstra", "Liskov",
		"Torvalds", "Perlman", "Knuth", "Allen", "Thompson", "Ritchie", "Lamport", "Goldwasser",
		"Berners-Lee", "Cerf", "Lamarr", "Easley", "McCarthy", "Montgomery-Fairweather"}
	companies = []string{"Analytical Engines International Holdings Ltd — Procurement Department",
		"Northwind Traders Europe GmbH — Regional Sales Office Hamburg",
		"Contoso Pharmaceuticals Research & Development — Clinical Trials Unit",
		"Globex Corporation Logistics Division — Warehouse Operations North",
		"Initech Software Consulting Services LLC — Enterprise Accounts Team",
		"Umbrella Biomedical Laboratories Inc. — Quality Assurance Group",
		"Stark Industries Advanced Materials Group — Research Campus West",
		"Wayne Enterprises Foundation for the Arts — Community Programmes"}
	cities    = []string{"San Francisco", "Amsterdam", "Buenos Aires", "Kuala Lumpur", "Johannesburg", "Reykjavík", "Saint Petersburg", "Ho Chi Minh City"}
	countries = []string{"United States of America", "Netherlands", "Argentina", "Malaysia", "South Africa", "Iceland", "Russian Federation", "Viet Nam"}
	stages    = []string{"subscriber", "lead", "marketing-qualified-lead", "sales-qualified-lead", "opportunity", "customer", "evangelist"}
	owners    = []string{"alex.morgan@sales.example.com", "jordan.lee@sales.example.com", "sam.rivera@sales.example.com", "casey.nguyen@sales.example.com"}
	sources   = []string{"Organic search — pricing page, enterprise plan comparison table",
		"Paid social — spring launch campaign 2026, landing page variant B with video",
		"Partner referral — reseller programme EMEA, introduced by the account partner",
		"Trade show — booth scan on day two, asked for a follow-up demo next quarter",
		"Webinar — scaling your data pipelines, attended live and downloaded the slides"}
)

// contact returns the values of contact i, deterministic in i. A variant (1, 2, …) keeps the
// email and names but changes phone and source, as another app's or a later edit's copy would.
func contact(i, variant int) []any {
	f, l := firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)]
	source := sources[(i+variant)%len(sources)]
	if variant > 0 {
		source = fmt.Sprintf("%s (edit %d)", source, variant)
	}
	return []any{
		fmt.Sprintf("%s.%s.%07d@mail-%d.example.com", lower(f), lower(l), i, i%97),
		f,
		l,
		fmt.Sprintf("+1 %03d 555 %04d", 200+i%800, (i+variant*7919)%10000),
		companies[(i/7)%len(companies)],
		cities[(i/3)%len(cities)],
		countries[(i/3)%len(countries)],
		stages[i%len(stages)],
		owners[i%len(owners)],
		source,
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// recordBytes is the text size of contact i: what "~300 bytes per record" refers to.
func recordBytes(i int) int {
	n := 0
	for _, v := range contact(i, 0) {
		n += len(v.(string))
	}
	return n
}

// sqliteStamp is the SQLite connector's updated-at text layout (UTC).
func sqliteStamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000") }
