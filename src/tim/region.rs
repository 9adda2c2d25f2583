//! The regions (data centres) of Tencent Cloud IM and their REST API domains.
//!
//! An app lives in exactly one region; calling another region's domain fails with
//! 70016, 70020 or 60026, so the region is part of every app's configuration.

use std::fmt;
use std::str::FromStr;

/// A Tencent Cloud IM data centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    China,
    Singapore,
    Seoul,
    Tokyo,
    Frankfurt,
    SiliconValley,
    Jakarta,
}

impl Region {
    /// Every region, in the order the documentation lists them.
    pub const ALL: [Region; 7] = [
        Region::China,
        Region::Singapore,
        Region::Seoul,
        Region::Tokyo,
        Region::Frankfurt,
        Region::SiliconValley,
        Region::Jakarta,
    ];

    /// The name used in configuration and in the `im_region` label.
    pub fn name(self) -> &'static str {
        match self {
            Region::China => "china",
            Region::Singapore => "singapore",
            Region::Seoul => "seoul",
            Region::Tokyo => "tokyo",
            Region::Frankfurt => "frankfurt",
            Region::SiliconValley => "silicon-valley",
            Region::Jakarta => "jakarta",
        }
    }

    /// The primary REST API domain of the region.
    pub fn domain(self) -> &'static str {
        match self {
            Region::China => "console.tim.qq.com",
            Region::Singapore => "adminapisgp.im.qcloud.com",
            Region::Seoul => "adminapikr.im.qcloud.com",
            Region::Tokyo => "adminapijpn.im.qcloud.com",
            Region::Frankfurt => "adminapiger.im.qcloud.com",
            Region::SiliconValley => "adminapiusa.im.qcloud.com",
            Region::Jakarta => "adminapiidn.im.qcloud.com",
        }
    }

    /// `https://` plus [`Region::domain`].
    pub fn endpoint(self) -> String {
        format!("https://{}", self.domain())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The region name was not one of [`Region::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {0:?}, expected one of: china, singapore, seoul, tokyo, frankfurt, silicon-valley, jakarta")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .into_iter()
            .find(|region| region.name() == s)
            .ok_or_else(|| UnknownRegion(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_domains_are_documented() {
        for region in Region::ALL {
            assert_eq!(region.name().parse::<Region>(), Ok(region));
            assert!(region.endpoint().starts_with("https://"));
        }
        assert_eq!(Region::Singapore.domain(), "adminapisgp.im.qcloud.com");
        assert_eq!(Region::Tokyo.domain(), "adminapijpn.im.qcloud.com");
        assert_eq!(Region::China.domain(), "console.tim.qq.com");
    }

    #[test]
    fn unknown_names_are_rejected_with_the_choices() {
        let err = "mumbai".parse::<Region>().unwrap_err();
        assert!(err.to_string().contains("silicon-valley"));
        assert_eq!(
            "Singapore".parse::<Region>(),
            Err(UnknownRegion("Singapore".into()))
        );
    }
}
