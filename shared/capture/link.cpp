// The link layers a capture's packets may begin with, by their pcap LINKTYPE values.
#include "shared/capture/link.hpp"

#include <pcap/pcap.h>

namespace sluice {

LinkType link_type(std::uint32_t value) {
    for (const LinkTypeInfo& l : kLinkTypes)
        if (l.value == value) return l.type;
    return LinkType::unsupported;
}

std::string link_type_name(std::uint32_t value) {
    for (const LinkTypeInfo& l : kLinkTypes)
        if (l.value == value) return std::string(l.name) + " (" + std::to_string(value) + ")";
    // libpcap names link types by their DLT values, which are the LINKTYPE values for all but a
    // few old ones (those it names "DLT n").
    const char* name =
        value <= 0xffff ? pcap_datalink_val_to_description(static_cast<int>(value)) : nullptr;
    return std::string(name != nullptr ? name : "an unknown link type") + " (" +
           std::to_string(value) + ")";
}

}  // namespace sluice
