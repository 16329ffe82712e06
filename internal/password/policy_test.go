package password

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/trustelem/zxcvbn/frequency"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		password string
		others   []string
		want     []string
	}{
		{"seed example", "BigBob27!", nil, nil},
		{"seed example with identities", "BigBob27!", []string{"bob@example.com", "bob"}, nil},
		{"exactly 8", "aB3$efgh", nil, nil},
		{"exactly 256", "aB3$" + strings.Repeat("x", 252), nil, nil},
		{"typographic quote counts as special", "BigBob27\u201c", nil, nil},
		{"closing single quote counts as special", "BigBob27\u2019", nil, nil},
		{"non-ASCII letters count", "Ärger27!ß", nil, nil},
		{"runes not bytes: 8 runes, 16 bytes", "Äöüß12!Ω", nil, nil},

		{"too short", "aB3$efg", nil, []string{MsgTooShort}},
		{"too long", "aB3$" + strings.Repeat("x", 253), nil, []string{MsgTooLong}},
		{"invalid UTF-8", "BigBob27!\xff", nil, []string{MsgInvalidUTF}},
		{"no lowercase", "BIGBOB27!", nil, []string{MsgNoLower}},
		{"no uppercase", "bigbob27!", nil, []string{MsgNoUpper}},
		{"no digit", "BigBobXY!", nil, []string{MsgNoDigit}},
		{"non-ASCII digit is no digit", "BigBob٢٧!", nil, []string{MsgNoDigit}},
		{"no special", "BigBob277", nil, []string{MsgNoSpecial}},
		{"space is not special", "BigBob 27", nil, []string{MsgNoSpecial}},
		{"equals sign is not special", "BigBob=27", nil, []string{MsgNoSpecial}},
		{"common, mixed case", "P@ssw0rd", nil, []string{MsgCommon}},
		{"common, other spelling", "pA$$W0rd", nil, []string{MsgCommon}},
		{"equals username", "BigBob27!", []string{"", "bigbob27!"}, []string{MsgIdentity}},
		{"equals email", "Bob@Ex4mple.com", []string{"bob@ex4mple.com", "bob"}, []string{MsgIdentity}},
		{"equals both: one message", "Bob@Ex4mple.com", []string{"bob@ex4mple.com", "BOB@EX4MPLE.COM"}, []string{MsgIdentity}},
		{"empty identities ignored", "BigBob27!", []string{"", ""}, nil},

		{"empty", "", nil, []string{MsgTooShort, MsgNoLower, MsgNoUpper, MsgNoDigit, MsgNoSpecial}},
		{"common lowercase password", "password", nil, []string{MsgNoUpper, MsgNoDigit, MsgNoSpecial, MsgCommon}},
		{"common mixed case password", "PassWord", nil, []string{MsgNoDigit, MsgNoSpecial, MsgCommon}},
		{"common digits", "123456", nil, []string{MsgTooShort, MsgNoLower, MsgNoUpper, MsgNoSpecial, MsgCommon}},
		{"short and invalid UTF-8", "aB3\xff", nil, []string{MsgTooShort, MsgInvalidUTF}},
		{"long and invalid UTF-8", strings.Repeat("\xff", 300), nil, []string{MsgTooLong, MsgInvalidUTF}},
		{"long, all one class", strings.Repeat("a", 257), nil, []string{MsgTooLong, MsgNoUpper, MsgNoDigit, MsgNoSpecial}},
		{"short, identity", "bob1", []string{"BOB1"}, []string{MsgTooShort, MsgNoUpper, MsgNoSpecial, MsgIdentity}},
		{"every class missing but long enough", "        ", nil, []string{MsgNoLower, MsgNoUpper, MsgNoDigit, MsgNoSpecial}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.password, tt.others...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q, %q) = %q, want %q (-want +got):\n%s", tt.password, tt.others, got, tt.want, diff)
			}
		})
	}
}

func TestIsCommon(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"password", true},
		{"PASSWORD", true},
		{"PassWord", true},
		{"dragon", true},
		{"p@ssw0rd", true},
		{"P@SSW0RD", true},
		{"BigBob27!", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsCommon(tt.in); got != tt.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite common.txt from zxcvbn's list")

// TestCommonListMatchesZxcvbn checks that common.txt is zxcvbn's password
// list (its lower-case entries, sorted, unique), so that an upgrade of
// zxcvbn that moves or shrinks it shows; -update rewrites the file.
func TestCommonListMatchesZxcvbn(t *testing.T) {
	var words []string
	for _, w := range frequency.FrequencyLists["passwords"] {
		if w != "" && w == strings.ToLower(w) && !strings.Contains(w, "\n") {
			words = append(words, w)
		}
	}
	slices.Sort(words)
	words = slices.Compact(words)
	if len(words) < 25000 {
		t.Fatalf("zxcvbn's list has %d usable entries, want at least 25000", len(words))
	}
	want := strings.Join(words, "\n") + "\n"
	if *update {
		if err := os.WriteFile("common.txt", []byte(want), 0o644); err != nil { // #nosec G306 -- a source file
			t.Fatal(err)
		}
		return
	}
	if commonText != want {
		t.Fatalf("common.txt differs from zxcvbn's list (%d bytes, want %d): go test -run TestCommonListMatchesZxcvbn -update", len(commonText), len(want))
	}
	// Every entry is found by the binary search, and the entry with a
	// byte more is not.
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[w] = true
	}
	for i, w := range words {
		if short := w[:len(w)-1]; IsCommon(short) != set[short] {
			t.Fatalf("IsCommon(%q) = %v, want %v", short, !set[short], set[short])
		}
		if !IsCommon(w) {
			t.Fatalf("IsCommon(%q) (entry %d) = false, want true", w, i)
		}
		if IsCommon(w + "\x00") { // no entry holds a NUL
			t.Fatalf("IsCommon(%q) = true, want false", w+"\x00")
		}
	}
	for _, s := range []string{"", "\n", "password\n", "\npassword", "zzzzzzzzzzzzzzzzzzz", "\x00"} {
		if IsCommon(s) {
			t.Errorf("IsCommon(%q) = true, want false", s)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "BigBob27!", "password", "P@ssw0rd", "aB3$\xff", "Äöüß12!Ω", "BigBob27\u201c", strings.Repeat("aB1!", 70)} {
		f.Add(s, "bob@example.com")
	}
	f.Fuzz(func(t *testing.T, password, other string) {
		got := Check(password, other, "")
		if again := Check(password, other, ""); !cmp.Equal(got, again) {
			t.Fatalf("Check(%q, %q) = %q, then %q: not deterministic", password, other, got, again)
		}
		seen := map[string]bool{}
		for _, m := range got {
			if seen[m] {
				t.Errorf("Check(%q, %q) = %q: %q twice", password, other, got, m)
			}
			seen[m] = true
		}
		if want := wantAcceptable(password, other); (got == nil) != want {
			t.Errorf("Check(%q, %q) = %q, want acceptable %v", password, other, got, want)
		}

		// Adding every class to a password of a valid length makes it
		// acceptable unless it is common or an identity.
		p := "aA1!" + password
		if n := utf8.RuneCountInString(p); n < MinLength || n > MaxLength || !utf8.ValidString(p) ||
			IsCommon(p) || strings.EqualFold(p, other) {
			return
		}
		if got := Check(p, other); got != nil {
			t.Errorf("Check(%q, %q) = %q, want nil", p, other, got)
		}
	})
}

// wantAcceptable restates the policy independently of Check.
func wantAcceptable(p, other string) bool {
	if !utf8.ValidString(p) {
		return false
	}
	if n := len([]rune(p)); n < 8 || n > 256 {
		return false
	}
	has := func(f func(rune) bool) bool { return strings.IndexFunc(p, f) >= 0 }
	return has(unicode.IsLower) && has(unicode.IsUpper) &&
		has(func(r rune) bool { return r >= '0' && r <= '9' }) &&
		strings.ContainsAny(p, `^$*.[]{}()?-"!@#%&/,><':;|_~+“”‘’`) &&
		!IsCommon(p) && (other == "" || !strings.EqualFold(p, other))
}

// The message lists the specials as the NOWATCH document prints them,
// typographic quotes included, and every one it lists is accepted.
func TestSpecialsMessage(t *testing.T) {
	const seedSet = "^$*.[]{}()?-“!@#%&/,><’:;|_~+" // NOWATCH's document, as printed
	if !strings.Contains(MsgNoSpecial, seedSet) {
		t.Errorf("MsgNoSpecial = %q, want the document's set %q", MsgNoSpecial, seedSet)
	}
	for _, r := range seedSet + `"'` {
		if !strings.ContainsRune(Specials, r) {
			t.Errorf("%q is listed (or typed for a listed quote) but not accepted", r)
		}
	}
}
