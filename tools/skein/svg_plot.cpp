#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>

#include "skein/error.h"

namespace skein::cli {
namespace {

// Figure geometry, in SVG user units (pixels).
constexpr double kPanelWidth = 440, kPanelHeight = 330;
constexpr double kLeft = 74, kRight = 14, kTop = 30, kBottom = 48;  // plot area inside a panel
constexpr double kTitleHeight = 34;
constexpr int kMaxTicksX = 7, kMaxTicksY = 7;

// Tableau 10: distinguishable, colour-blind tolerant; series past ten are dashed.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr size_t kPaletteSize = sizeof kPalette / sizeof kPalette[0];

std::string num(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v);
  return text;
}

// Fixed-point with `decimals` digits, trailing zeros (and a bare point) removed.
std::string trimmed_fixed(double v, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", std::max(decimals, 0), v);
  std::string s = text;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

// Ticks at multiples of the smallest nice step (1, 2, 2.5, 5 × 10^k) that
// gives at most max_ticks of them inside [lo, hi].
std::vector<Tick> linear_ticks(double lo, double hi, int max_ticks) {
  if (!(hi > lo)) return {{lo, format_tick(lo)}};
  const double range = hi - lo;
  const int top = static_cast<int>(std::floor(std::log10(range))) + 1;
  for (int k = top - 3; k <= top + 1; ++k) {
    for (double m : {1.0, 2.0, 2.5, 5.0}) {
      const double step = m * std::pow(10.0, k);
      const double first = std::ceil(lo / step - 1e-9);
      const double last = std::floor(hi / step + 1e-9);
      if (last - first + 1 > max_ticks) continue;
      std::vector<Tick> ticks;
      for (double i = first; i <= last; ++i) {
        double v = i * step;
        if (std::fabs(v) < step * 1e-9) v = 0;
        ticks.push_back({v, format_tick(v)});
      }
      return ticks;
    }
  }
  return {{lo, format_tick(lo)}, {hi, format_tick(hi)}};
}

std::string binary_label(int exponent) {
  if (exponent < 0) return format_tick(std::ldexp(1.0, exponent));
  if (exponent >= 30) return std::to_string(1LL << (exponent - 30)) + "G";
  if (exponent >= 20) return std::to_string(1LL << (exponent - 20)) + "M";
  if (exponent >= 10) return std::to_string(1LL << (exponent - 10)) + "K";
  return std::to_string(1LL << exponent);
}

// Every stride-th item of `all` (those whose index in the full, unbounded
// sequence is a multiple of stride), widening the stride until at most
// max_ticks remain.
template <typename T>
std::vector<T> thin(const std::vector<T>& all, const std::vector<int>& index, int max_ticks) {
  for (int stride = 1;; ++stride) {
    std::vector<T> kept;
    for (size_t i = 0; i < all.size(); ++i) {
      if (index[i] % stride == 0) kept.push_back(all[i]);
    }
    if (static_cast<int>(kept.size()) <= max_ticks) {
      if (kept.size() < 2 && all.size() >= 2) return {all.front(), all.back()};
      return kept;
    }
  }
}

std::vector<Tick> log_ticks(double lo, double hi, int max_ticks, bool binary) {
  std::vector<Tick> ticks;
  std::vector<int> index;
  if (binary) {
    const int first = static_cast<int>(std::ceil(std::log2(lo) - 1e-9));
    const int last = static_cast<int>(std::floor(std::log2(hi) + 1e-9));
    for (int e = first; e <= last; ++e) {
      ticks.push_back({std::ldexp(1.0, e), binary_label(e)});
      index.push_back(e);  // thinned to multiples of a stride: 2^0, 2^2, 2^4 ... or 2^0, 2^3 ...
    }
  } else {
    const int first = static_cast<int>(std::floor(std::log10(lo))) - 1;
    const int last = static_cast<int>(std::ceil(std::log10(hi))) + 1;
    // Densest of 1-2-5 per decade, then powers of ten (thinned by stride).
    std::vector<Tick> dense;
    for (int k = first; k <= last; ++k) {
      for (double m : {1.0, 2.0, 5.0}) {
        const double v = m * std::pow(10.0, k);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) dense.push_back({v, format_tick(v)});
      }
    }
    // Under a factor of ~5, 1-2-5 leaves too few ticks: linear ones read better.
    // (few of them: on a log axis they crowd toward the top).
    if (dense.size() < 3) return linear_ticks(lo, hi, std::min(max_ticks, 4));
    if (static_cast<int>(dense.size()) <= max_ticks) return dense;
    for (int k = first; k <= last; ++k) {
      const double v = std::pow(10.0, k);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) {
        ticks.push_back({v, format_tick(v)});
        index.push_back(k);
      }
    }
    if (ticks.size() < 2) return dense;
  }
  if (ticks.size() < 2) return linear_ticks(lo, hi, max_ticks);
  return thin(ticks, index, max_ticks);
}

// Maps data values of one axis to pixels over [pixel_lo, pixel_hi].
struct Mapping {
  AxisScale scale = AxisScale::kLinear;
  double lo = 0, hi = 1;  // domain in transformed units (log10 for a log axis)
  double pixel_lo = 0, pixel_hi = 1;

  double transform(double v) const { return scale == AxisScale::kLog ? std::log10(v) : v; }
  double operator()(double v) const {
    return pixel_lo + (transform(v) - lo) / (hi - lo) * (pixel_hi - pixel_lo);
  }
  double value_at(double t) const { return scale == AxisScale::kLog ? std::pow(10.0, t) : t; }
};

bool drawable(double v, AxisScale scale) {
  return std::isfinite(v) && (scale == AxisScale::kLinear || v > 0);
}

// The transformed extent of `values`, padded by 4% on each side.
Mapping domain(const std::vector<double>& values, AxisScale scale, double pixel_lo,
               double pixel_hi) {
  Mapping m;
  m.scale = scale;
  m.pixel_lo = pixel_lo;
  m.pixel_hi = pixel_hi;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (!drawable(v, scale)) continue;
    lo = std::min(lo, m.transform(v));
    hi = std::max(hi, m.transform(v));
  }
  if (!(lo <= hi)) {
    lo = 0;
    hi = 1;
  } else if (hi - lo < 1e-12) {
    const double half = scale == AxisScale::kLog ? 0.5 : std::max(std::fabs(lo) * 0.1, 1.0);
    lo -= half;
    hi += half;
  }
  const double pad = 0.04 * (hi - lo);
  m.lo = lo - pad;
  m.hi = hi + pad;
  return m;
}

void draw_text(std::string& svg, double x, double y, std::string_view anchor, std::string_view text,
               std::string_view extra = "") {
  svg += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + std::string(anchor) +
         "\"" + std::string(extra) + ">" + xml_escape(text) + "</text>\n";
}

void draw_panel(std::string& svg, const Panel& panel, double left, double top,
                const std::map<std::string, size_t>& colour) {
  const double x0 = left + kLeft, x1 = left + kPanelWidth - kRight;
  const double y0 = top + kPanelHeight - kBottom, y1 = top + kTop;  // y grows downwards
  std::vector<double> xs, ys;
  for (const Series& s : panel.series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    for (size_t i = 0; i < s.y.size(); ++i) {
      ys.push_back(s.y[i]);
      if (i < s.err.size() && std::isfinite(s.err[i])) {
        ys.push_back(s.y[i] + s.err[i]);
        ys.push_back(s.y[i] - s.err[i]);
      }
    }
  }
  const Mapping mx = domain(xs, panel.x.scale, x0, x1);
  const Mapping my = domain(ys, panel.y.scale, y0, y1);

  svg += "<g class=\"panel\" data-title=\"" + xml_escape(panel.title) + "\">\n";
  draw_text(svg, (x0 + x1) / 2, top + 18, "middle", panel.title, " font-weight=\"bold\"");
  svg += "<rect x=\"" + num(x0) + "\" y=\"" + num(y1) + "\" width=\"" + num(x1 - x0) +
         "\" height=\"" + num(y0 - y1) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  for (const Tick& t : axis_ticks(mx.value_at(mx.lo), mx.value_at(mx.hi), panel.x.scale, kMaxTicksX,
                                  panel.x.binary)) {
    const double x = mx(t.value);
    svg += "<line class=\"grid\" x1=\"" + num(x) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x) +
           "\" y2=\"" + num(y0) + "\" stroke=\"#e4e4e4\"/>\n";
    draw_text(svg, x, y0 + 16, "middle", t.label, " class=\"tick\"");
  }
  for (const Tick& t : axis_ticks(my.value_at(my.lo), my.value_at(my.hi), panel.y.scale, kMaxTicksY,
                                  panel.y.binary)) {
    const double y = my(t.value);
    svg += "<line class=\"grid\" x1=\"" + num(x0) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x1) +
           "\" y2=\"" + num(y) + "\" stroke=\"#e4e4e4\"/>\n";
    draw_text(svg, x0 - 6, y + 4, "end", t.label, " class=\"tick\"");
  }
  draw_text(svg, (x0 + x1) / 2, y0 + 38, "middle", panel.x.label);
  const double label_x = left + 16, label_y = (y0 + y1) / 2;
  draw_text(svg, label_x, label_y, "middle", panel.y.label,
            " transform=\"rotate(-90 " + num(label_x) + " " + num(label_y) + ")\"");

  for (const Series& s : panel.series) {
    const size_t c = colour.at(s.name);
    const std::string stroke = kPalette[c % kPaletteSize];
    const std::string dash = c >= kPaletteSize ? " stroke-dasharray=\"6 3\"" : "";
    svg += "<g class=\"series\" data-name=\"" + xml_escape(s.name) + "\">\n<title>" +
           xml_escape(s.name) + "</title>\n";
    std::string line;  // the current unbroken run of points
    auto flush = [&] {
      if (line.find(' ') != std::string::npos) {
        svg += "<polyline fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"1.8\"" + dash +
               " points=\"" + line + "\"/>\n";
      }
      line.clear();
    };
    const size_t count = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < count; ++i) {
      if (!drawable(s.x[i], panel.x.scale) || !drawable(s.y[i], panel.y.scale)) {
        flush();
        continue;
      }
      const double px = mx(s.x[i]), py = my(s.y[i]);
      line += (line.empty() ? "" : " ") + num(px) + "," + num(py);
      if (i < s.err.size() && std::isfinite(s.err[i]) && s.err[i] > 0) {
        const double upper = my(s.y[i] + s.err[i]);
        const double low_value = s.y[i] - s.err[i];
        const double lower = drawable(low_value, panel.y.scale) ? my(low_value) : y0;
        svg += "<path class=\"error\" stroke=\"" + stroke + "\" d=\"M" + num(px) + " " +
               num(lower) + "V" + num(upper) + "M" + num(px - 3) + " " + num(upper) + "h6M" +
               num(px - 3) + " " + num(lower) + "h6\"/>\n";
      }
      svg += "<circle cx=\"" + num(px) + "\" cy=\"" + num(py) + "\" r=\"2.8\" fill=\"" + stroke +
             "\"/>\n";
    }
    flush();
    svg += "</g>\n";
  }
  svg += "</g>\n";
}

}  // namespace

std::vector<Tick> axis_ticks(double lo, double hi, AxisScale scale, int max_ticks, bool binary) {
  if (lo > hi) std::swap(lo, hi);
  max_ticks = std::max(max_ticks, 2);
  if (scale == AxisScale::kLog) {
    if (!(lo > 0)) throw Error("axis_ticks: a log axis needs positive bounds, got " + num(lo));
    if (hi / lo < 1 + 1e-9) return {{lo, format_tick(lo)}};
    return log_ticks(lo, hi, max_ticks, binary);
  }
  return linear_ticks(lo, hi, max_ticks);
}

std::string format_tick(double value) {
  if (value == 0 || !std::isfinite(value)) return value == 0 ? "0" : "?";
  const double a = std::fabs(value);
  const std::string sign = value < 0 ? "-" : "";
  const int magnitude = static_cast<int>(std::floor(std::log10(a) + 1e-9));
  if (a >= 1e4 && a < 1e12) {
    const char* suffix[] = {"k", "M", "G"};
    const int group = std::min(magnitude / 3, 3);
    const double scaled = a / std::pow(10.0, 3 * group);
    return sign + format_tick(scaled) + suffix[group - 1];
  }
  if (a >= 1e-3 && a < 1e4) {
    // Three significant digits, at least as many as a round number needs.
    return sign + trimmed_fixed(a, 2 - magnitude);
  }
  const double mantissa = a / std::pow(10.0, magnitude);
  const std::string m = trimmed_fixed(mantissa, 2);
  return sign + (m == "1" ? "" : m) + (m == "1" ? "1e" : "e") + std::to_string(magnitude);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f ? '?' : c;
    }
  }
  return out;
}

std::string render_svg(const std::string& title, const std::vector<Panel>& panels) {
  std::map<std::string, size_t> colour;  // series name -> index in first-appearance order
  std::vector<std::string> names;
  size_t longest = 0;
  for (const Panel& p : panels) {
    for (const Series& s : p.series) {
      if (colour.emplace(s.name, names.size()).second) {
        names.push_back(s.name);
        longest = std::max(longest, s.name.size());
      }
    }
  }
  const double legend_width = names.empty() ? 0 : 56 + 7.0 * static_cast<double>(longest);
  const double width =
      kPanelWidth * static_cast<double>(std::max<size_t>(panels.size(), 1)) + legend_width + 10;
  const double legend_height = kTitleHeight + kTop + 20.0 * static_cast<double>(names.size());
  const double height = std::max(kTitleHeight + kPanelHeight, legend_height) + 8;

  std::string svg =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
      num(width) + "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " +
      num(height) + "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  draw_text(svg, width / 2, 22, "middle", title, " class=\"title\" font-size=\"15\"");
  for (size_t i = 0; i < panels.size(); ++i) {
    draw_panel(svg, panels[i], kPanelWidth * static_cast<double>(i), kTitleHeight, colour);
  }
  if (!names.empty()) {
    const double lx = kPanelWidth * static_cast<double>(panels.size()) + 6;
    svg += "<g class=\"legend\">\n";
    for (size_t i = 0; i < names.size(); ++i) {
      const double y = kTitleHeight + kTop + 8 + 20.0 * static_cast<double>(i);
      const std::string stroke = kPalette[i % kPaletteSize];
      const std::string dash = i >= kPaletteSize ? " stroke-dasharray=\"6 3\"" : "";
      svg += "<line x1=\"" + num(lx) + "\" y1=\"" + num(y) + "\" x2=\"" + num(lx + 28) +
             "\" y2=\"" + num(y) + "\" stroke=\"" + stroke + "\" stroke-width=\"1.8\"" + dash +
             "/>\n<circle cx=\"" + num(lx + 14) + "\" cy=\"" + num(y) + "\" r=\"2.8\" fill=\"" +
             stroke + "\"/>\n";
      draw_text(svg, lx + 36, y + 4, "start", names[i]);
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

void write_svg(const std::string& path, const std::string& title,
               const std::vector<Panel>& panels) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot open for writing the SVG plot");
  out << render_svg(title, panels);
  out.close();
  if (!out) throw Error(path + ": cannot write the SVG plot");
}

}  // namespace skein::cli
