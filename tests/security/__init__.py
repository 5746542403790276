"""Bad input and bad actors at every service (a package, so its services stop when it ends)."""
