// Package tap is capsa's stand-in for github.com/mndrix/tap-go, which Debian
// does not package. tests/oci/setup.sh installs it at that import path in the
// GOPATH used to build the runtime-tools validation suite.
//
// It provides only what the suite calls (New, Header, AutoPlan, Ok, Pass,
// Fail, Skip, Todo, Diagnostic, Diagnosticf, YAML) and prints TAP version 13
// the way upstream's default build does, because tests/oci/run.sh scores the
// programs from that text:
//
//	ok 3 - description            not ok 4 - description # TODO
//	ok 5 # SKIP reason            # a diagnostic line
//	  ---                         (YAML block: JSON indented by two
//	  {                            spaces, so keys start in column 5,
//	    "error": "..."             which run.sh relies on to find
//	  }                            failures reported only as an "error"
//	  ...                          diagnostic)
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T is one TAP stream. Copies made by Todo share the test counter, so
// numbering stays consecutive across them.
type T struct {
	counter *int
	todo    bool
	// Writer, when set, receives the output instead of os.Stdout.
	Writer io.Writer
}

// New returns a stream that writes to standard output.
func New() *T {
	n := 0
	return &T{counter: &n}
}

func (t *T) w() io.Writer {
	if t.Writer != nil {
		return t.Writer
	}
	return os.Stdout
}

func (t *T) next() int {
	if t.counter == nil {
		t.counter = new(int)
	}
	*t.counter++
	return *t.counter
}

// Header starts the stream; a positive count also prints the plan up front.
func (t *T) Header(count int) {
	fmt.Fprintln(t.w(), "TAP version 13")
	if count > 0 {
		fmt.Fprintf(t.w(), "1..%d\n", count)
	}
}

// Count returns how many results have been printed so far.
func (t *T) Count() int {
	if t.counter == nil {
		return 0
	}
	return *t.counter
}

// AutoPlan prints a trailing plan covering every result printed so far.
func (t *T) AutoPlan() {
	fmt.Fprintf(t.w(), "1..%d\n", t.Count())
}

// Ok prints one result line.
func (t *T) Ok(test bool, description string) {
	status := "ok"
	if !test {
		status = "not ok"
	}
	directive := ""
	if t.todo {
		directive = " # TODO"
	}
	fmt.Fprintf(t.w(), "%s %d - %s%s\n", status, t.next(), description, directive)
}

// Pass is Ok(true, description).
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail is Ok(false, description).
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip prints count skipped results with the same reason.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		fmt.Fprintf(t.w(), "ok %d # SKIP %s\n", t.next(), description)
	}
}

// Todo returns a view of the stream whose results carry the TODO directive
// (expected failures that TAP consumers do not count).
func (t *T) Todo() *T {
	if t.counter == nil {
		t.counter = new(int)
	}
	c := *t
	c.todo = true
	return &c
}

// Diagnostic prints a comment; every line of a multi-line message gets "# ".
func (t *T) Diagnostic(message string) {
	fmt.Fprintf(t.w(), "# %s\n", strings.ReplaceAll(message, "\n", "\n# "))
}

// Diagnosticf is Diagnostic with fmt formatting.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML prints message as a TAP 13 YAML block. JSON is a subset of YAML, so
// the block is indented JSON, which keeps this free of a YAML library.
func (t *T) YAML(message interface{}) error {
	body, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(t.w(), "  ---\n  %s\n  ...\n", body)
	return nil
}
