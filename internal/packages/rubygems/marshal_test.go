package rubygems

import (
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv/testbin"
)

// TestMarshal compares the encoder's output with what Ruby 3.1's Marshal.dump wrote for the
// same values (the hex strings were printed by ruby -e 'p Marshal.dump(…).unpack1("H*")').
func TestMarshal(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"ok/integers and constants", []any{nil, true, false, 0, 1, 122, 123, -1, -123, -124, 255, 256, -256, 65536, 1<<30 - 1, -(1 << 30)},
			"04085b1530544669006906697f69017b69fa698069ff846901ff6902000169ff0069030000016904ffffff3f69fc000000c0"},
		{"ok/strings, symbols and links, hashes", []any{"héllo", Symbol("sym"), Symbol("sym"), Hash{{Symbol("a"), "x"}}},
			"04085b0949220b68c3a96c6c6f063a0645543a0873796d3b067b063a066149220678063b0054"},
		{"ok/Gem::Version", marshalVersion("1.0.0"), "0408553a1147656d3a3a56657273696f6e5b0649220a312e302e30063a064554"},
		{"ok/Gem::Requirement", marshalRequirement(Requirement{{">=", "1.0"}}),
			"0408553a1547656d3a3a526571756972656d656e745b065b065b074922073e3d063a064554553a1147656d3a3a56657273696f6e5b06492208312e30063b0654"},
		{"ok/binary string", Binary("bin"), "0408220862696e"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != c.want {
				t.Fatalf("Marshal = %x\nwant      %s", got, c.want)
			}
		})
	}
	for _, v := range []any{1 << 30, -(1 << 30) - 1, 1.5, map[string]string{}, Object{Class: "X", Ivars: []Pair{{1, 2}}}} {
		if _, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%#v) did not fail", v)
		}
	}
}

// TestMarshalLoadsInRuby has the real Ruby load what the indexes hold: a quick-index gemspec
// (Gem::Specification._load), a specs tuple and a dependency API entry. RubyGems 3.3's _load
// reads the licenses into @license, which #licenses does not read: the line is empty, as it
// is for a spec that Ruby dumped itself.
func TestMarshalLoadsInRuby(t *testing.T) {
	ruby := testbin.Binary(t, "ruby")
	spec := &Spec{Name: "greeter", Version: "1.2.0", Platform: "ruby", Summary: "Says hello", Description: "Longer",
		Authors: []string{"A", "B"}, Email: []string{"a@example.com"}, Licenses: []string{"MIT"}, Date: "2024-01-31",
		Metadata: map[string]string{"source_code_uri": "https://example.com/x"}, RubygemsVersion: "3.3.15",
		SpecificationVersion: 4, RequiredRuby: Requirement{{">=", "2.7"}},
		Dependencies: []Dependency{{Name: "base", Requirement: Requirement{{"~>", "1.0"}, {">=", "1.0.2"}}, Type: "runtime"},
			{Name: "rake", Type: "development"}}}
	quick, err := spec.QuickSpec()
	if err != nil {
		t.Fatal(err)
	}
	tuple, err := Marshal([]any{specTuple("greeter", "1.2.0", "ruby")})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := Marshal([]any{spec.dependencyEntry()})
	if err != nil {
		t.Fatal(err)
	}
	script := `
s = Marshal.load([ARGV[0]].pack("H*"))
puts s.full_name, s.summary, s.authors.join(","), s.email, s.licenses.join(","), s.date.strftime("%F"),
  s.required_ruby_version.to_s, s.metadata["source_code_uri"],
  s.dependencies.map { |d| "#{d.name} #{d.requirement} #{d.type}" }.join(";")
t = Marshal.load([ARGV[1]].pack("H*"))
puts t.inspect
d = Marshal.load([ARGV[2]].pack("H*"))
puts d.inspect
`
	out, err := exec.Command(ruby, "-e", script, hex.EncodeToString(quick), hex.EncodeToString(tuple), hex.EncodeToString(deps)).CombinedOutput()
	if err != nil {
		t.Fatalf("ruby: %v\n%s", err, out)
	}
	want := `greeter-1.2.0
Says hello
A,B
a@example.com

2024-01-31
>= 2.7
https://example.com/x
base ~> 1.0, >= 1.0.2 runtime;rake >= 0 development
[["greeter", #<Gem::Version "1.2.0">, "ruby"]]
[{:name=>"greeter", :number=>"1.2.0", :platform=>"ruby", :dependencies=>[["base", "~> 1.0, >= 1.0.2"]]}]`
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("ruby read:\n%s\nwant:\n%s", got, want)
	}
}
