package debian

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Limits bound what ParseDeb reads of a package.
type Limits struct {
	// Control bounds the compressed control member; ControlTar its decompressed tar; Paragraph
	// the control file itself.
	Control, ControlTar, Paragraph int64
	// Members bounds the ar members looked at before control.tar.
	Members int
}

// DefaultLimits are generous for real packages (a control.tar of a few kilobytes) and small
// enough that a bomb costs nothing.
func DefaultLimits() Limits {
	return Limits{Control: 8 << 20, ControlTar: 16 << 20, Paragraph: 64 << 10, Members: 4}
}

// Control is a binary package's control paragraph, parsed and checked.
type Control struct {
	Package, Version, Architecture string
	// Fields are the paragraph's fields in their order, values without the "Name: " and with
	// continuation lines kept ("\n " joined).
	Fields []Field
}

// Field is one field of a control paragraph.
type Field struct{ Name, Value string }

// Get returns the value of the named field (case-insensitively), or "".
func (c *Control) Get(name string) string {
	for _, f := range c.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// errDeb is what every malformed package answers.
func errDeb(reason string) error { return invalid("package", reason) }

const arMagic = "!<arch>\n"

// ParseDeb reads a .deb (an ar archive of debian-binary, control.tar[.gz|.xz|.zst] and
// data.tar…) of size bytes from r and returns its checked control paragraph. It reads only up to
// the control member, bounded by lim; a malformed archive is a *packages.ValidationError and a
// control member over the limits packages.ErrTooLarge.
func ParseDeb(r io.ReaderAt, size int64, lim Limits) (*Control, error) {
	magic := make([]byte, len(arMagic))
	if _, err := r.ReadAt(magic, 0); err != nil || string(magic) != arMagic {
		return nil, errDeb("is not a Debian binary package (no ar archive)")
	}
	off := int64(len(arMagic))
	for i := 0; i < lim.Members; i++ {
		hdr := make([]byte, 60)
		if _, err := r.ReadAt(hdr, off); err != nil {
			return nil, errDeb("ar archive ends before its control member")
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, errDeb("ar member header is malformed")
		}
		name := strings.TrimSuffix(strings.TrimRight(string(hdr[0:16]), " "), "/")
		n, err := strconv.ParseInt(strings.TrimRight(string(hdr[48:58]), " "), 10, 64)
		if err != nil || n < 0 || n > size-off-60 {
			return nil, errDeb("ar member size is malformed")
		}
		body := io.NewSectionReader(r, off+60, n)
		switch {
		case i == 0:
			if name != "debian-binary" || n > 16 {
				return nil, errDeb("first member is not debian-binary")
			}
			b := make([]byte, n)
			if _, err := body.ReadAt(b, 0); err != nil || !strings.HasPrefix(string(b), "2.") {
				return nil, errDeb("debian-binary is not format 2.x")
			}
		case strings.HasPrefix(name, "control.tar"):
			if n > lim.Control {
				return nil, tooLarge("control member")
			}
			return readControlTar(body, strings.TrimPrefix(name, "control.tar"), lim)
		case strings.HasPrefix(name, "_"):
			// Members dpkg ignores (signatures) may come before the control member.
		default:
			return nil, errDeb("control member missing")
		}
		off += 60 + n + n%2
	}
	return nil, errDeb("control member missing")
}

type tooLargeError struct{ what string }

func (e *tooLargeError) Error() string { return "the " + e.what + " is too large" }
func (e *tooLargeError) Unwrap() error { return packages.ErrTooLarge }
func tooLarge(what string) error       { return &tooLargeError{what: what} }
func isTooLarge(err error) bool        { return errors.Is(err, packages.ErrTooLarge) }

func readControlTar(body io.Reader, ext string, lim Limits) (*Control, error) {
	var tr io.Reader
	switch ext {
	case "":
		tr = body
	case ".gz":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, errDeb("control.tar.gz is not gzip")
		}
		defer zr.Close()
		tr = zr
	case ".xz":
		// Read whole (the member is bounded by lim.Control) to check its dictionary sizes first.
		raw, err := io.ReadAll(body)
		if err != nil || !checkXZ(raw) {
			return nil, errDeb("control.tar.xz is not one xz stream with dictionaries of at most 16 MiB")
		}
		xr, err := xz.ReaderConfig{DictCap: 64 << 10, SingleStream: true}.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errDeb("control.tar.xz is not xz")
		}
		tr = xr
	case ".zst":
		zr, err := zstd.NewReader(body, zstd.WithDecoderMaxMemory(uint64(lim.ControlTar)), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, errDeb("control.tar.zst is not zstd")
		}
		defer zr.Close()
		tr = zr
	default:
		return nil, errDeb("control member has an unknown compression")
	}
	counted := &limitedReader{r: tr, n: lim.ControlTar}
	t := tar.NewReader(counted)
	for {
		h, err := t.Next()
		if err != nil {
			if isTooLarge(counted.err) {
				return nil, counted.err
			}
			return nil, errDeb("control.tar has no control file")
		}
		if strings.TrimPrefix(h.Name, "./") != "control" || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > lim.Paragraph {
			return nil, tooLarge("control file")
		}
		b, err := io.ReadAll(io.LimitReader(t, h.Size))
		if err != nil {
			if isTooLarge(counted.err) {
				return nil, counted.err
			}
			return nil, errDeb("control.tar is truncated")
		}
		return ParseControl(b)
	}
}

// limitedReader fails with ErrTooLarge past n bytes (io.LimitReader would end silently).
type limitedReader struct {
	r   io.Reader
	n   int64
	err error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.err = tooLarge("decompressed control member")
		return 0, l.err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// indexFields are the fields the repository writes itself into a Packages stanza: a control
// file must not set them.
var indexFields = map[string]bool{"filename": true, "size": true, "md5sum": true, "sha1": true, "sha256": true, "sha512": true}

// ParseControl parses one binary package control paragraph (deb-control(5)) and checks its
// Package, Version and Architecture against Debian policy.
func ParseControl(b []byte) (*Control, error) {
	if !utf8.Valid(b) {
		return nil, errDeb("control file is not UTF-8")
	}
	var c Control
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), len(b)+1)
	ended := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			ended = len(c.Fields) > 0
			continue
		case ended:
			return nil, errDeb("control file holds more than one paragraph")
		case strings.HasPrefix(line, "#"):
			continue
		case line[0] == ' ' || line[0] == '\t':
			if len(c.Fields) == 0 {
				return nil, errDeb("control file starts with a continuation line")
			}
			c.Fields[len(c.Fields)-1].Value += "\n" + line
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") || name[0] == '-' {
			return nil, errDeb("control file has a malformed field")
		}
		for i := 0; i < len(name); i++ {
			if name[i] < 0x21 || name[i] > 0x7e {
				return nil, errDeb("control file has a malformed field name")
			}
		}
		key := strings.ToLower(name)
		if seen[key] {
			return nil, errDeb("control file repeats the field " + name)
		}
		if indexFields[key] {
			return nil, errDeb("control file sets the repository's field " + name)
		}
		seen[key] = true
		c.Fields = append(c.Fields, Field{Name: name, Value: strings.TrimSpace(value)})
	}
	for _, f := range c.Fields {
		for _, r := range f.Value {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
				return nil, errDeb("control file holds control characters")
			}
		}
	}
	c.Package, c.Version, c.Architecture = c.Get("Package"), c.Get("Version"), c.Get("Architecture")
	if err := firstErr(checkName(c.Package), checkVersion(c.Version), checkArch(c.Architecture)); err != nil {
		return nil, err
	}
	if c.Get("Description") == "" {
		return nil, errDeb("control file has no Description")
	}
	return &c, nil
}

// Paragraph renders the control fields as a paragraph (no trailing blank line).
func (c *Control) Paragraph() string {
	var b strings.Builder
	for _, f := range c.Fields {
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Value)
		b.WriteByte('\n')
	}
	return b.String()
}
