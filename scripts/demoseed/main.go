// Command demoseed creates the two small apps `make demo` syncs: a CRM with
// contacts and a newsletter tool with subscribers, each a SQLite file, with
// the flaws a real first sync meets (no email, a bad email, a shared email).
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"

	_ "github.com/mattn/go-sqlite3"
)

const crmSchema = `
CREATE TABLE contacts (
  id              INTEGER PRIMARY KEY,
  email           TEXT UNIQUE,
  first_name      TEXT,
  last_name       TEXT NOT NULL,
  phone           TEXT,
  company         TEXT,
  lifecycle_stage TEXT NOT NULL DEFAULT 'lead',
  updated_at      DATETIME
);`

const newsletterSchema = `
CREATE TABLE subscribers (
  id          INTEGER PRIMARY KEY,
  email       TEXT UNIQUE NOT NULL,
  firstname   TEXT,
  surname     TEXT,
  telephone   TEXT,
  status      TEXT,
  updated_at  DATETIME
);`

// The CRM's contacts. Stages: lead, customer, other ("other" is filtered out).
var contacts = [][]any{
	{"ada@example.com", "Ada", "Lovelace", "+44 20 7946 0001", "Analytical Engines", "customer"},
	{"grace@example.com", "Grace", "Hopper", "+1 202 555 0102", "US Navy", "customer"},
	{"alan@example.com", "Alan", "Turing", "+44 161 496 0003", "Bletchley Park", "lead"},
	{"Katherine.Johnson@Example.com", "Katherine", "Johnson", "+1 757 555 0104", "NASA", "customer"},
	{"margaret@example.com", "Margaret", "Hamilton", "+1 617 555 0105", "MIT", "lead"},
	{"edsger@example.com", "Edsger", "Dijkstra", nil, "TU Eindhoven", "lead"},
	{"barbara@example.com", "Barbara", "Liskov", "+1 617 555 0107", "MIT", "customer"},
	{"vendor@example.com", "Vera", "Vendor", nil, "Supplies Ltd", "other"},
	{nil, "Noemail", "Person", "+1 555 0109", "Nowhere Inc", "lead"},
	{nil, "Another", "Nomail", nil, "Nowhere Inc", "customer"},
	{"bob(at)example.com", "Bob", "Badmail", nil, "Typos & Co", "lead"},
	{"shared@example.com", "Sam", "First", nil, "Twins GmbH", "lead"},
	{"SHARED@example.com ", "Sam", "Second", nil, "Twins GmbH", "customer"},
}

// The newsletter's subscribers: some are the CRM's contacts (matched by email,
// case-insensitively), some exist only here.
var subscribers = [][]any{
	{"katherine.johnson@example.com", "Katherine", "Johnson", nil, "Customer"},
	{"linus@example.com", "Linus", "Torvalds", "+358 9 555 0201", "Prospect"},
	{"radia@example.com", "Radia", "Perlman", nil, "Customer"},
	{"ada@example.com", "Ada", nil, nil, "Customer"},
}

func main() {
	crm := flag.String("crm", "crm.db", "path of the CRM database to create")
	news := flag.String("newsletter", "newsletter.db", "path of the newsletter database to create")
	flag.Parse()
	if err := seed(*crm, crmSchema, "INSERT INTO contacts (email, first_name, last_name, phone, company, lifecycle_stage, updated_at) VALUES (?,?,?,?,?,?,?)", contacts); err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
	if err := seed(*news, newsletterSchema, "INSERT INTO subscribers (email, firstname, surname, telephone, status, updated_at) VALUES (?,?,?,?,?,?)", subscribers); err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
	fmt.Printf("created %s (%d contacts) and %s (%d subscribers)\n", *crm, len(contacts), *news, len(subscribers))
}

func seed(path, schema, insert string, rows [][]any) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists: remove it first", path)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.Exec(schema); err != nil {
		return fmt.Errorf("create tables in %s: %w", path, err)
	}
	for i, r := range rows {
		args := append(append([]any{}, r...), fmt.Sprintf("2026-01-%02d 09:00:00.000000", 1+i))
		if _, err := db.Exec(insert, args...); err != nil {
			return fmt.Errorf("insert row %d into %s: %w", i+1, path, err)
		}
	}
	return nil
}
