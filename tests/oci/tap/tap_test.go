// Checks that the tap-go stand-in prints exactly the TAP that tests/oci/run.sh scores.
package tap

import (
	"bytes"
	"testing"
)

func TestOutput(t *testing.T) {
	var buf bytes.Buffer
	tp := New()
	tp.Writer = &buf
	tp.Header(0)
	tp.Ok(true, "first")
	tp.Fail("second")
	tp.Skip(2, "no feature")
	todo := tp.Todo()
	todo.Fail("later")
	tp.Pass("after todo")
	tp.Diagnosticf("two\nlines %d", 7)
	if err := tp.YAML(map[string]string{"error": "exit status 1"}); err != nil {
		t.Fatal(err)
	}
	tp.AutoPlan()
	want := "TAP version 13\n" +
		"ok 1 - first\n" +
		"not ok 2 - second\n" +
		"ok 3 # SKIP no feature\n" +
		"ok 4 # SKIP no feature\n" +
		"not ok 5 - later # TODO\n" +
		"ok 6 - after todo\n" +
		"# two\n# lines 7\n" +
		"  ---\n  {\n    \"error\": \"exit status 1\"\n  }\n  ...\n" +
		"1..6\n"
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestHeaderPlan(t *testing.T) {
	var buf bytes.Buffer
	tp := New()
	tp.Writer = &buf
	tp.Header(1)
	tp.Skip(1, "whole suite")
	if got, want := buf.String(), "TAP version 13\n1..1\nok 1 # SKIP whole suite\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if tp.Count() != 1 {
		t.Fatalf("Count() = %d, want 1", tp.Count())
	}
}
