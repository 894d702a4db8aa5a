package rubygems

// What the external tests share with the internal ones: building gems by hand.
var (
	BuildGem      = buildGem
	MakeGem       = makeGem
	Gz            = gz
	SpecYAML      = specYAML
	ChecksumsYAML = checksumsYAML
)

// GemEntry is one tar entry for MakeGem.
type GemEntry = gemEntry

// NewGemEntry is a regular file entry.
func NewGemEntry(name string, data []byte) GemEntry { return gemEntry{name: name, data: data} }
