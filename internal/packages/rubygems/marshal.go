package rubygems

import (
	"bytes"
	"fmt"
)

// A small encoder of Ruby's Marshal format 4.8, the one RubyGems' indexes are written in
// (specs.4.8.gz, quick/Marshal.4.8/*.gemspec.rz and the dependency API). It writes only what
// those documents hold: nil, booleans, small integers, UTF-8 strings, symbols, arrays, hashes,
// plain objects (Gem::Dependency) and objects with marshal_dump (Gem::Version,
// Gem::Requirement) or _dump (Gem::Specification). Nothing here decodes: the server never
// reads Marshal data a client sent (docs/rubygems.md).

// Symbol is a Ruby symbol (:runtime).
type Symbol string

// Pair is one entry of a Hash, in order.
type Pair struct {
	Key, Value any
}

// Hash is a Ruby Hash with its entries in order.
type Hash []Pair

// Object is a plain Ruby object of Class with instance variables (names with their "@").
type Object struct {
	Class string
	Ivars []Pair
}

// UserMarshal is an object of Class whose marshal_dump returned Data ("U" in the stream).
type UserMarshal struct {
	Class string
	Data  any
}

// UserDump is an object of Class whose _dump returned the bytes Data ("u" in the stream).
type UserDump struct {
	Class string
	Data  []byte
}

// Binary is a string without an encoding (ASCII-8BIT).
type Binary []byte

// Marshal encodes v as Ruby's Marshal.dump would. v is built of nil, bool, int, int64,
// string (UTF-8), Binary, Symbol, []any, []string, Hash, Object, UserMarshal and UserDump; any
// other type is an error.
func Marshal(v any) ([]byte, error) {
	e := &encoder{symbols: map[string]int{}}
	e.buf.Write([]byte{4, 8})
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

type encoder struct {
	buf     bytes.Buffer
	symbols map[string]int
}

func (e *encoder) value(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf.WriteByte('0')
	case bool:
		if x {
			e.buf.WriteByte('T')
		} else {
			e.buf.WriteByte('F')
		}
	case int:
		return e.integer(int64(x))
	case int64:
		return e.integer(x)
	case string:
		// A UTF-8 string is the raw string with one instance variable, E = true.
		e.buf.WriteByte('I')
		e.buf.WriteByte('"')
		e.bytes([]byte(x))
		e.long(1)
		e.symbol("E")
		e.buf.WriteByte('T')
	case Binary:
		e.buf.WriteByte('"')
		e.bytes(x)
	case Symbol:
		e.symbol(string(x))
	case []string:
		e.buf.WriteByte('[')
		e.long(int64(len(x)))
		for _, s := range x {
			if err := e.value(s); err != nil {
				return err
			}
		}
	case []any:
		e.buf.WriteByte('[')
		e.long(int64(len(x)))
		for _, item := range x {
			if err := e.value(item); err != nil {
				return err
			}
		}
	case Hash:
		e.buf.WriteByte('{')
		e.long(int64(len(x)))
		for _, p := range x {
			if err := e.value(p.Key); err != nil {
				return err
			}
			if err := e.value(p.Value); err != nil {
				return err
			}
		}
	case Object:
		e.buf.WriteByte('o')
		e.symbol(x.Class)
		e.long(int64(len(x.Ivars)))
		for _, p := range x.Ivars {
			name, ok := p.Key.(string)
			if !ok {
				return fmt.Errorf("marshal: instance variable name of %s is a %T", x.Class, p.Key)
			}
			e.symbol(name)
			if err := e.value(p.Value); err != nil {
				return err
			}
		}
	case UserMarshal:
		e.buf.WriteByte('U')
		e.symbol(x.Class)
		return e.value(x.Data)
	case UserDump:
		e.buf.WriteByte('u')
		e.symbol(x.Class)
		e.bytes(x.Data)
	default:
		return fmt.Errorf("marshal: cannot encode a %T", v)
	}
	return nil
}

// integer writes a Fixnum; Ruby's Marshal writes larger values as Bignums, which the indexes
// never need.
func (e *encoder) integer(n int64) error {
	if n < -(1<<30) || n >= 1<<30 {
		return fmt.Errorf("marshal: integer %d is out of the Fixnum range", n)
	}
	e.buf.WriteByte('i')
	e.long(n)
	return nil
}

// long is Marshal's variable-length integer (w_long in Ruby's marshal.c).
func (e *encoder) long(n int64) {
	switch {
	case n == 0:
		e.buf.WriteByte(0)
	case n > 0 && n < 123:
		e.buf.WriteByte(byte(n + 5))
	case n < 0 && n > -124:
		e.buf.WriteByte(byte((n - 5) & 0xff))
	default:
		var b [4]byte
		i := 0
		for ; i < 4; i++ {
			b[i] = byte(n & 0xff)
			n >>= 8
			if n == 0 || n == -1 {
				i++
				break
			}
		}
		if n < 0 {
			e.buf.WriteByte(byte(-i))
		} else {
			e.buf.WriteByte(byte(i))
		}
		e.buf.Write(b[:i])
	}
}

func (e *encoder) bytes(b []byte) {
	e.long(int64(len(b)))
	e.buf.Write(b)
}

// symbol writes a symbol once and a link (";") to it after that, as Ruby does.
func (e *encoder) symbol(s string) {
	if i, ok := e.symbols[s]; ok {
		e.buf.WriteByte(';')
		e.long(int64(i))
		return
	}
	e.symbols[s] = len(e.symbols)
	e.buf.WriteByte(':')
	e.bytes([]byte(s))
}
