// Small self-contained SVG line charts (no scripts, no network) for lr-find's plot
// and the interpret report.
#pragma once
#include <string>
#include <vector>

namespace ursa {

struct SvgSeries {
    std::string name, color;
    std::vector<double> x, y;  // non-finite y values break the line
};

struct SvgMarker {
    double x = 0, y = 0;
    std::string label, css_class, color = "#d62728";
};

struct SvgChart {
    std::string title, xlabel, ylabel;
    bool log_x = false, log_y = false;
    int width = 640, height = 360;
    std::vector<SvgSeries> series;
    std::vector<SvgMarker> markers;
};

std::string render_svg(const SvgChart& chart);

// Text made safe for HTML/SVG content and attribute values.
std::string xml_escape(const std::string& text);

}  // namespace ursa
