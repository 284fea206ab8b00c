//! The page as it is written: into a string ([`super::render`]) or straight through to the
//! file ([`super::write`]), so that a report with hundreds of evidence images is never held
//! whole in memory.

use std::io::Write;

/// Text is passed on to the file in pieces of about this many bytes.
const CHUNK: usize = 64 * 1024;

pub(super) struct Page<'a> {
    buf: String,
    sink: Option<&'a mut dyn Write>,
    error: Option<std::io::Error>,
}

impl<'a> Page<'a> {
    /// A page kept in memory.
    pub(super) fn in_memory() -> Self {
        Self {
            buf: String::with_capacity(CHUNK),
            sink: None,
            error: None,
        }
    }

    /// A page written to `sink` as it grows.
    pub(super) fn to(sink: &'a mut dyn Write) -> Self {
        Self {
            sink: Some(sink),
            ..Self::in_memory()
        }
    }

    pub(super) fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
        if self.buf.len() >= CHUNK {
            self.pass_on();
        }
    }

    fn pass_on(&mut self) {
        if let Some(w) = self.sink.as_mut() {
            if self.error.is_none() {
                if let Err(e) = w.write_all(self.buf.as_bytes()) {
                    self.error = Some(e);
                }
            }
            self.buf.clear();
        }
    }

    /// The page (in memory), or the first write error (written through).
    pub(super) fn finish(mut self) -> std::io::Result<String> {
        self.pass_on();
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.buf),
        }
    }
}

impl std::fmt::Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn a_page_written_through_equals_the_page_in_memory() {
        let fill = |p: &mut Page| {
            for i in 0..20_000 {
                let _ = write!(p, "<p>{i}</p>");
                p.push_str("\n");
            }
        };
        let mut mem = Page::in_memory();
        fill(&mut mem);
        let text = mem.finish().unwrap();
        let mut file = Vec::new();
        let mut through = Page::to(&mut file);
        fill(&mut through);
        assert!(through.buf.len() < CHUNK, "passed on as it grows");
        assert_eq!(through.finish().unwrap(), "");
        assert_eq!(String::from_utf8(file).unwrap(), text);
    }

    #[test]
    fn a_write_error_is_reported_at_the_end() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut sink = Full;
        let mut p = Page::to(&mut sink);
        p.push_str("x");
        assert!(p.finish().unwrap_err().to_string().contains("disk full"));
    }
}
