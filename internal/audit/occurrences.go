package audit

import (
	"strconv"
	"strings"
)

// summaryMarker follows the count at the start of a summary row's details (aggregate.summary).
const summaryMarker = " more like this between "

// Occurrences is how many events e stands for (docs/design.md §8.4): the count a summary row
// holds of the events aggregated into it, else 1.
func Occurrences(e *Event) int64 {
	if e.Type != AuthenticationFailed && e.Type != DeployTokenRefused {
		return 1
	}
	count, _, ok := strings.Cut(e.Details, summaryMarker)
	if !ok {
		return 1
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		return 1
	}
	return n
}
