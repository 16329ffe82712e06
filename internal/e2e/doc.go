// Package e2e holds end-to-end tests: the real HTTP API and the real
// Telegram bot, each with its own store on one SQLite file as the two
// processes would have, against the fake Bot API of package telegramtest.
// It has no code outside its tests.
package e2e
