package debian

import "encoding/binary"

// maxXZDict bounds the LZMA2 dictionary a control.tar.xz may ask for. The xz reader allocates
// what each block's header names (up to 1.5 GiB), so a few bytes could make every upload
// allocate that much: dpkg-deb's control members use 8 MiB or less.
const maxXZDict = 16 << 20

// checkXZ reports whether b is one xz stream whose every block asks for an LZMA2 dictionary of
// at most maxXZDict. It walks the stream's index (from its footer) to find the blocks.
func checkXZ(b []byte) bool {
	const hdr, footer = 12, 12
	if len(b) < hdr+footer || string(b[:6]) != "\xfd7zXZ\x00" || string(b[len(b)-2:]) != "YZ" {
		return false
	}
	backward := (int(binary.LittleEndian.Uint32(b[len(b)-8:len(b)-4])) + 1) * 4
	idx := len(b) - footer - backward
	if backward <= 0 || idx < hdr || b[idx] != 0 {
		return false
	}
	p := idx + 1
	records, ok := uvarint(b, &p, idx+backward)
	if !ok || records > 1<<16 {
		return false
	}
	off := hdr
	for i := uint64(0); i < records; i++ {
		unpadded, ok1 := uvarint(b, &p, idx+backward)
		_, ok2 := uvarint(b, &p, idx+backward)
		if !ok1 || !ok2 || unpadded == 0 || unpadded > uint64(idx) {
			return false
		}
		if !checkXZBlock(b[:idx], off) {
			return false
		}
		off += int((unpadded + 3) &^ 3)
		if off > idx {
			return false
		}
	}
	return off == idx
}

// checkXZBlock checks the filters of the block header at off.
func checkXZBlock(b []byte, off int) bool {
	if off >= len(b) || b[off] == 0 {
		return false
	}
	end := off + (int(b[off])+1)*4
	if end > len(b) {
		return false
	}
	flags := b[off+1]
	p := off + 2
	if flags&0x40 != 0 {
		if _, ok := uvarint(b, &p, end); !ok {
			return false
		}
	}
	if flags&0x80 != 0 {
		if _, ok := uvarint(b, &p, end); !ok {
			return false
		}
	}
	for f := 0; f <= int(flags&3); f++ {
		id, ok1 := uvarint(b, &p, end)
		size, ok2 := uvarint(b, &p, end)
		if !ok1 || !ok2 || size > uint64(end-p) {
			return false
		}
		if id == 0x21 { // LZMA2: one byte, the dictionary size
			if size != 1 || xzDictSize(b[p]) > maxXZDict {
				return false
			}
		}
		p += int(size)
	}
	return true
}

// xzDictSize decodes an LZMA2 dictionary-size byte.
func xzDictSize(c byte) uint64 {
	if c > 40 {
		return 1 << 63
	}
	if c == 40 {
		return 0xffffffff
	}
	return uint64(2|c&1) << (c/2 + 11)
}

// uvarint reads an xz multibyte integer at *p, before end.
func uvarint(b []byte, p *int, end int) (uint64, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		if *p >= end || *p >= len(b) {
			return 0, false
		}
		c := b[*p]
		*p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}
