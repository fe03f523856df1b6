#include "ursa/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ursa {

std::string xml_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

namespace {

struct Axis {
    double lo = INFINITY, hi = -INFINITY;
    bool log = false;
    double map(double v) const { return log ? std::log10(v) : v; }
    void add(double v) {
        if (!std::isfinite(v) || (log && v <= 0)) return;
        lo = std::min(lo, map(v));
        hi = std::max(hi, map(v));
    }
    void finish() {
        if (!std::isfinite(lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    }
    // Tick values in data units: powers of ten on a log axis, 5 even steps otherwise.
    std::vector<double> ticks() const {
        std::vector<double> t;
        if (log) {
            for (int e = static_cast<int>(std::ceil(lo)); e <= static_cast<int>(std::floor(hi)); ++e)
                t.push_back(std::pow(10.0, e));
        } else {
            for (int i = 0; i <= 4; ++i) t.push_back(lo + (hi - lo) * i / 4);
        }
        return t;
    }
};

std::string tick_label(double v, bool log) {
    char buf[32];
    if (log) std::snprintf(buf, sizeof buf, "1e%d", static_cast<int>(std::lround(std::log10(v))));
    else std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

}  // namespace

std::string render_svg(const SvgChart& c) {
    const double W = c.width, H = c.height, left = 70, right = 20, top = c.title.empty() ? 20 : 36, bottom = 50;
    Axis ax, ay;
    ax.log = c.log_x;
    ay.log = c.log_y;
    for (const auto& s : c.series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
            if (std::isfinite(s.y[i])) ax.add(s.x[i]), ay.add(s.y[i]);
    ax.finish();
    ay.finish();
    bool nonneg = true;
    for (const auto& s : c.series)
        for (double v : s.y)
            if (std::isfinite(v) && v < 0) nonneg = false;
    if (nonneg && !ay.log && ay.lo < 0) ay.lo = 0;  // a flat non-negative series keeps its axis at >= 0
    auto X = [&](double v) { return left + (ax.map(v) - ax.lo) / (ax.hi - ax.lo) * (W - left - right); };
    auto Y = [&](double v) {
        const double m = std::clamp(ay.map(v), ay.lo, ay.hi);
        return top + (ay.hi - m) / (ay.hi - ay.lo) * (H - top - bottom);
    };
    std::string svg;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                  W, H, W, H);
    svg += buf;
    if (!c.title.empty()) {
        std::snprintf(buf, sizeof buf, "<text x=\"%g\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">", W / 2);
        svg += buf + xml_escape(c.title) + "</text>\n";
    }
    std::snprintf(buf, sizeof buf, "<path d=\"M%g %g V%g H%g\" fill=\"none\" stroke=\"#444\"/>\n", left, top,
                  H - bottom, W - right);
    svg += buf;
    for (double t : ax.ticks()) {
        const double x = X(t);
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#444\"/><text x=\"%.1f\" y=\"%g\" "
                      "text-anchor=\"middle\">%s</text>\n",
                      x, H - bottom, x, H - bottom + 5, x, H - bottom + 20, tick_label(t, ax.log).c_str());
        svg += buf;
    }
    for (double t : ay.ticks()) {
        const double y = Y(t);
        std::snprintf(buf, sizeof buf,
                      "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%g\" y=\"%.1f\" "
                      "text-anchor=\"end\">%s</text>\n",
                      left, y, W - right, y, left - 6, y + 4, tick_label(t, ay.log).c_str());
        svg += buf;
    }
    std::snprintf(buf, sizeof buf, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">", (left + W - right) / 2, H - 12);
    svg += buf + xml_escape(c.xlabel) + "</text>\n";
    std::snprintf(buf, sizeof buf, "<text x=\"16\" y=\"%g\" transform=\"rotate(-90 16 %g)\" text-anchor=\"middle\">",
                  (top + H - bottom) / 2, (top + H - bottom) / 2);
    svg += buf + xml_escape(c.ylabel) + "</text>\n";
    double legend_y = top + 12;
    for (const auto& s : c.series) {
        std::string points;
        auto flush = [&] {
            if (points.empty()) return;
            svg += "<polyline class=\"series\" data-name=\"" + xml_escape(s.name) + "\" fill=\"none\" stroke=\"" +
                   s.color + "\" stroke-width=\"1.5\" points=\"" + points + "\"/>\n";
            points.clear();
        };
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.y[i]) || (ay.log && s.y[i] <= 0) || (ax.log && s.x[i] <= 0)) {
                flush();
                continue;
            }
            std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(s.x[i]), Y(s.y[i]));
            points += buf;
        }
        flush();
        if (s.x.size() <= 60)  // few points (epochs): draw each, so a single one shows too
            for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
                if (std::isfinite(s.y[i]) && !(ay.log && s.y[i] <= 0) && !(ax.log && s.x[i] <= 0)) {
                    std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                                  X(s.x[i]), Y(s.y[i]), s.color.c_str());
                    svg += buf;
                }
        if (c.series.size() > 1) {
            std::snprintf(buf, sizeof buf,
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"/><text x=\"%g\" "
                          "y=\"%g\">",
                          W - right - 150, legend_y - 4, W - right - 130, legend_y - 4, s.color.c_str(), W - right - 125,
                          legend_y);
            svg += buf + xml_escape(s.name) + "</text>\n";
            legend_y += 16;
        }
    }
    for (const auto& m : c.markers) {
        std::snprintf(buf, sizeof buf,
                      "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "fill=\"%s\">",
                      xml_escape(m.css_class).c_str(), X(m.x), Y(m.y), m.color.c_str(), X(m.x) + 8, Y(m.y) - 8,
                      m.color.c_str());
        svg += buf + xml_escape(m.label) + "</text>\n";
    }
    svg += "</svg>\n";
    return svg;
}

}  // namespace ursa
