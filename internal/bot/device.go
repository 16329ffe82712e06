package bot

import "strings"

// device names what a User-Agent says it is, in words of our own: "Firefox
// on Linux", "curl", "an unknown device". Nothing of the agent itself
// reaches the chat, so a crafted agent cannot put a line of its own, let
// alone a link, into a notice.
func device(ua string) string {
	lower := strings.ToLower(ua)
	for _, t := range tools {
		if strings.HasPrefix(lower, t.prefix) {
			return t.name
		}
	}
	browser := first(lower, browsers)
	system := first(lower, systems)
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "a device with " + system
	}
	return "an unknown device"
}

type marker struct{ prefix, name string }

// tools are programs, not browsers, named by how their agent starts.
var tools = []marker{
	{"curl/", "curl"},
	{"wget/", "Wget"},
	{"httpie/", "HTTPie"},
	{"python-requests/", "Python requests"},
	{"python-urllib/", "Python urllib"},
	{"go-http-client/", "a Go program"},
	{"okhttp/", "an Android app (OkHttp)"},
	{"postmanruntime/", "Postman"},
	{"insomnia/", "Insomnia"},
}

// browsers and systems are found anywhere in the agent, the first that
// matches winning: Edge and Opera also say Chrome, Chrome also says Safari,
// Android also says Linux, iOS also says Mac OS X.
var (
	browsers = []marker{
		{"edg/", "Edge"}, {"opr/", "Opera"}, {"yabrowser/", "Yandex Browser"},
		{"samsungbrowser/", "Samsung Internet"}, {"firefox/", "Firefox"}, {"fxios/", "Firefox"},
		{"crios/", "Chrome"}, {"chrome/", "Chrome"}, {"chromium/", "Chromium"},
		{"telegram", "Telegram"}, {"version/", "Safari"},
	}
	systems = []marker{
		{"android", "Android"}, {"iphone", "iOS"}, {"ipad", "iPadOS"}, {"cros", "ChromeOS"},
		{"windows", "Windows"}, {"mac os x", "macOS"}, {"macintosh", "macOS"}, {"linux", "Linux"},
	}
)

// first returns the name of the first marker found in s, or "".
func first(s string, ms []marker) string {
	for _, m := range ms {
		if strings.Contains(s, m.prefix) {
			return m.name
		}
	}
	return ""
}
