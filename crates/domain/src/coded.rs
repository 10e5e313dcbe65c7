/// An enum whose values are stored or answered as stable snake_case codes (refusals,
/// audit actions): `code()` gives the code, `parse` takes one back, `ALL` lists every
/// value so tests can check each has its words.
#[macro_export]
#[doc(hidden)]
macro_rules! coded_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$doc:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$doc])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable code, as stored and as scripts see it.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            pub fn parse(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        /// As a stored code is read back (sqlx's `try_from = "String"`).
        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(code: String) -> Result<Self, String> {
                $name::parse(&code).ok_or_else(|| {
                    format!("{code:?} is not a {}", stringify!($name))
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.code())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::coded_enum! {
        pub enum Sample {
            One = "one",
            TwoWords = "two_words",
        }
    }

    #[test]
    fn codes_go_there_and_back() {
        for value in Sample::ALL {
            assert_eq!(Sample::parse(value.code()), Some(*value));
        }
        assert_eq!(Sample::TwoWords.to_string(), "two_words");
        assert_eq!(Sample::parse("three"), None);
        assert_eq!(Sample::try_from("one".to_owned()), Ok(Sample::One));
        assert!(Sample::try_from("three".to_owned()).is_err());
    }
}
