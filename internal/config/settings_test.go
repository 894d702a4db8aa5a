package config

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestSettingsCoverConfig: every field of Config is exactly one setting, and a setting's YAML key
// is the path of yaml tags to its field, so the file, the environment, the flags and the
// defaults can only name the same values. Secrets read from the environment only are the
// fields tagged yaml:"-".
func TestSettingsCoverConfig(t *testing.T) {
	var c Config
	type leaf struct {
		addr uintptr
		typ  reflect.Type
	}
	fields := map[string]leaf{} // YAML path (or Go name for yaml:"-") → field
	envOnly := map[string]bool{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			f, fv := v.Type().Field(i), v.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" {
				t.Fatalf("field %s%s has no yaml tag", prefix, f.Name)
			}
			if f.Type.Kind() == reflect.Struct && tag != "-" {
				walk(fv, prefix+tag+".")
				continue
			}
			name := prefix + tag
			if tag == "-" {
				name = prefix + f.Name
				envOnly[name] = true
			}
			fields[name] = leaf{fv.Addr().Pointer(), fv.Addr().Type()}
		}
	}
	walk(reflect.ValueOf(&c).Elem(), "")

	covered := map[string]string{} // field → setting key
	seen := map[string]bool{}
	for _, s := range settings {
		for _, name := range []string{s.key, s.env, "--" + s.flag} {
			if name != "--" && seen[name] {
				t.Errorf("%s is declared twice", name)
			}
			seen[name] = true
		}
		if want := "GATEHOUSE_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(s.key)); s.env != want {
			t.Errorf("setting %s: env %s, want %s", s.key, s.env, want)
		}
		p := reflect.ValueOf(s.field(&c))
		var found string
		for name, l := range fields {
			if l.addr == p.Pointer() && l.typ == p.Type() {
				found = name
			}
		}
		switch {
		case found == "":
			t.Errorf("setting %s points at no field of Config", s.key)
			continue
		case envOnly[found] != s.envOnly:
			t.Errorf("setting %s: envOnly %v, but its field %s is tagged yaml:%q", s.key, s.envOnly, found,
				map[bool]string{true: "-", false: "<key>"}[envOnly[found]])
		case !s.envOnly && found != s.key:
			t.Errorf("setting %s points at the field whose YAML key is %s", s.key, found)
		}
		if prev, dup := covered[found]; dup {
			t.Errorf("settings %s and %s point at the same field %s", prev, s.key, found)
		}
		covered[found] = s.key
		if s.def != "" {
			var scratch Config
			if err := s.set(&scratch, s.def); err != nil {
				t.Errorf("setting %s: default %q: %v", s.key, s.def, err)
			}
		}
	}
	for name := range fields {
		if _, ok := covered[name]; !ok {
			t.Errorf("Config field %s is no setting: add it to the settings table", name)
		}
	}
}

// readmeRow is one row of a configuration table in README.md, cells without backticks
// except the default, which is compared as written.
type readmeRow struct {
	line                     int
	flag, env, yaml, deflt   string
	hasFlag, hasYAML, hasDef bool
}

// readmeSettings reads every table with an "environment" column under README.md's
// "## Configuration" heading (up to the next "## " heading).
func readmeSettings(t *testing.T) []readmeRow {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []readmeRow
	var header []string
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Configuration"
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			header = nil
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case header == nil:
			header = cells
			continue
		case strings.HasPrefix(cells[0], "---"):
			continue
		}
		col := map[string]string{}
		for i, h := range header {
			if i < len(cells) {
				col[h] = cells[i]
			}
		}
		env, ok := col["environment"]
		if !ok {
			continue
		}
		_, hasFlag := col["flag"]
		_, hasYAML := col["YAML key"]
		_, hasDef := col["default"]
		rows = append(rows, readmeRow{line: n, flag: strings.Trim(col["flag"], "`"), env: strings.Trim(env, "`"),
			yaml: strings.Trim(col["YAML key"], "`"), deflt: col["default"], hasFlag: hasFlag, hasYAML: hasYAML, hasDef: hasDef})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal(`README.md has no configuration table under "## Configuration"`)
	}
	return rows
}

// TestREADMEListsEverySetting: README.md's configuration tables list exactly the settings that
// exist, with their YAML keys, flags and defaults.
func TestREADMEListsEverySetting(t *testing.T) {
	byEnv := map[string]*setting{}
	for i := range settings {
		byEnv[settings[i].env] = &settings[i]
	}
	listed := map[string]bool{}
	for _, r := range readmeSettings(t) {
		s, ok := byEnv[r.env]
		if !ok {
			t.Errorf("README.md:%d lists %s, which is no setting", r.line, r.env)
			continue
		}
		if listed[r.env] {
			t.Errorf("README.md:%d lists %s again", r.line, r.env)
		}
		listed[r.env] = true
		wantYAML := s.key
		if s.envOnly {
			wantYAML = ""
		}
		if r.hasYAML && r.yaml != wantYAML {
			t.Errorf("README.md:%d: %s has YAML key %q, want %q", r.line, r.env, r.yaml, wantYAML)
		}
		wantFlag := ""
		if s.flag != "" {
			wantFlag = "--" + s.flag
		}
		if (r.hasFlag || wantFlag != "") && r.flag != wantFlag {
			t.Errorf("README.md:%d: %s has flag %q, want %q", r.line, r.env, r.flag, wantFlag)
		}
		if r.hasDef && !s.documents(r.deflt) {
			t.Errorf("README.md:%d: %s has default %s, the settings table %q (shown %q)", r.line, r.env, r.deflt, s.def, s.shown)
		}
	}
	for _, s := range settings {
		if !listed[s.env] {
			t.Errorf("README.md's configuration tables do not list %s (%s)", s.env, s.key)
		}
	}
}

// documents reports whether a README default cell states s's default: its shown form, the value
// in backticks, or "none"/"empty" for a setting without one.
func (s *setting) documents(cell string) bool {
	switch {
	case s.shown != "":
		return cell == s.shown
	case s.def == "":
		return cell == "none" || cell == "empty"
	}
	return cell == "`"+s.def+"`"
}
