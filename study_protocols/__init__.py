"""Study protocols (TOML) shipped with protoecg as package data; format in README.md."""
