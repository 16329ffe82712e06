package telegramtest

import (
	"encoding/json"
	"regexp"
)

// linkLike is what Telegram's apps turn into something to tap in a plain
// text message: URLs with or without a scheme, bare domains, emails,
// @mentions and /commands with an argument-looking tail are all found by
// them; this errs on the side of finding more.
var linkLike = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://\S+|www\.\S+|[\p{L}\p{N}_-]+(\.[\p{L}\p{N}_-]+)*\.[a-z]{2,}\b(/\S*)?|@[a-z0-9_]{3,}`)

// Tappable returns the parts of text a Telegram app would show as links,
// domains, emails or mentions: the link-like parts not inside a code or
// pre entity of entities (the raw JSON sent with the message; "" for
// none). A message whose user-supplied parts are code shows none of
// them as links.
func Tappable(text, entities string) ([]string, error) {
	var ents []struct {
		Type   string `json:"type"`
		Offset int    `json:"offset"`
		Length int    `json:"length"`
	}
	if entities != "" {
		if err := json.Unmarshal([]byte(entities), &ents); err != nil {
			return nil, err
		}
	}
	units := utf16Len(text)
	inert := make([]bool, units)
	for _, e := range ents {
		if e.Type != "code" && e.Type != "pre" {
			continue
		}
		for i := e.Offset; i < e.Offset+e.Length && i < units; i++ {
			inert[i] = true
		}
	}
	var out []string
	for _, loc := range linkLike.FindAllStringIndex(text, -1) {
		start := utf16Len(text[:loc[0]])
		end := start + utf16Len(text[loc[0]:loc[1]])
		for i := start; i < end; i++ {
			if !inert[i] {
				out = append(out, text[loc[0]:loc[1]])
				break
			}
		}
	}
	return out, nil
}
