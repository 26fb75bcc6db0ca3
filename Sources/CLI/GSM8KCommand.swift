import ArgumentParser
import Core
import Foundation
import GSM8K
import GSM8K

extension MarkerOptions {
    /// Warns when a marker holds regular-expression metacharacters: the notebook pastes the markers into its
    /// regexes unescaped, so its functions would read them as patterns; ours match them literally.
    func warnAboutMetacharacters(_ m: ReasoningMarkers) {
        let meta = Set(".^$*+?{}[]\\|()")
        for marker in m.all where marker.contains(where: { meta.contains($0) }) {
            log.warning("""
                marker \(marker) holds regular-expression metacharacters; the rewards match it literally, \
                where the notebook's regexes would read it as a pattern
                """)
        }
    }
}

