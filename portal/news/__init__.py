"""News and policies: announcements to dealers in both languages, some to be acknowledged, and the library of the
policies in force."""
