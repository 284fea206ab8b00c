//! Default locations on the user's machine.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/clearshot`, else `~/.local/share/clearshot`.
pub fn data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("clearshot");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/clearshot")
}

/// The default talent/reference gallery database: `$CLEARSHOT_GALLERY`, else
/// `<data_dir>/gallery.sqlite`.
pub fn default_gallery() -> PathBuf {
    std::env::var_os("CLEARSHOT_GALLERY")
        .filter(|x| !x.is_empty())
        .map_or_else(|| data_dir().join("gallery.sqlite"), PathBuf::from)
}

/// `$XDG_STATE_HOME/clearshot`, else `~/.local/state/clearshot`: batch journals.
pub fn state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("clearshot");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/clearshot")
}
