#include "tests/unit/proxy/prometheus_text.h"

#include <cmath>
#include <cstdlib>

namespace promtext {

namespace {

bool name_start(char c, bool colon) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool name_char(char c, bool colon) {
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

// Consumes a metric name (colon allowed) or label name from the front of `s`.
std::string take_name(std::string_view& s, bool colon) {
    size_t n = 0;
    if (s.empty() || !name_start(s[0], colon)) return "";
    while (n < s.size() && name_char(s[n], colon))
        ++n;
    std::string out(s.substr(0, n));
    s.remove_prefix(n);
    return out;
}

bool parse_float(std::string_view text, double& out) {
    if (text == "+Inf" || text == "Inf") return out = INFINITY, true;
    if (text == "-Inf") return out = -INFINITY, true;
    if (text == "NaN") return out = NAN, true;
    if (text.empty()) return false;
    std::string s(text);
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && !std::isnan(out) && !std::isinf(out);
}

class Checker {
  public:
    Parsed run(std::string_view text) {
        if (!text.empty() && text.back() != '\n') error(0, "the last line does not end in \\n");
        size_t line_no = 0;
        while (!text.empty()) {
            size_t nl = text.find('\n');
            std::string_view line = text.substr(0, nl);
            text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
            ++line_no;
            if (line.empty()) continue;
            if (line[0] == '#')
                comment(line_no, line);
            else
                sample(line_no, line);
        }
        finish();
        return std::move(out_);
    }

  private:
    void error(size_t line, const std::string& what) {
        out_.errors.push_back("line " + std::to_string(line) + ": " + what);
    }

    Family& family(const std::string& name) {
        for (auto& f : out_.families)
            if (f.name == name) return f;
        out_.families.push_back(Family{name, "untyped", "", {}});
        return out_.families.back();
    }
    bool declared(const std::string& name) const {
        for (const auto& f : out_.families)
            if (f.name == name) return true;
        return false;
    }

    void comment(size_t n, std::string_view line) {
        std::string_view rest = line.substr(1);
        if (!rest.starts_with(" HELP ") && !rest.starts_with(" TYPE ")) return;  // a comment
        bool help = rest.starts_with(" HELP ");
        rest.remove_prefix(6);
        std::string name = take_name(rest, true);
        if (name.empty()) return error(n, "HELP/TYPE without a metric name");
        std::string_view value = rest.starts_with(' ') ? rest.substr(1) : rest;
        bool existed = declared(name);
        Family& f = family(name);
        if (help) {
            if (!f.help.empty()) error(n, "second HELP for " + name);
            f.help = std::string(value);
            return;
        }
        if (typed_.count(name)) error(n, "second TYPE for " + name);
        if (existed && !f.samples.empty()) error(n, "TYPE for " + name + " after its samples");
        static const std::set<std::string_view> kTypes{"counter", "gauge", "histogram", "summary",
                                                       "untyped"};
        if (!kTypes.count(value)) error(n, "unknown type '" + std::string(value) + "'");
        f.type = std::string(value);
        typed_.insert(name);
    }

    // The family a sample named `name` belongs to.
    std::string family_of(const std::string& name) const {
        for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
            if (!name.ends_with(suffix)) continue;
            std::string base = name.substr(0, name.size() - suffix.size());
            for (const auto& f : out_.families)
                if (f.name == base && (f.type == "histogram" || f.type == "summary")) return base;
        }
        return name;
    }

    void sample(size_t n, std::string_view line) {
        Sample s;
        s.name = take_name(line, true);
        if (s.name.empty()) return error(n, "bad metric name");
        if (line.starts_with('{') && !labels(n, line, s)) return;
        if (!line.starts_with(' ')) return error(n, "expected a space before the value");
        line.remove_prefix(1);
        std::string_view value = line.substr(0, line.find(' '));
        if (!parse_float(value, s.value)) return error(n, "bad value '" + std::string(value) + "'");
        if (value.size() < line.size()) {
            double ts = 0;
            if (!parse_float(line.substr(value.size() + 1), ts)) return error(n, "bad timestamp");
        }
        std::string fam = family_of(s.name);
        if (fam != current_ && closed_.count(fam)) error(n, fam + ": samples not contiguous");
        if (fam != current_ && !current_.empty()) closed_.insert(current_);
        current_ = fam;
        std::string series = s.name + "{";
        for (const auto& [k, v] : s.labels)
            series += k + "=" + v + ",";
        if (!series_.insert(series).second) error(n, "duplicate series " + series + "}");
        Family& f = family(fam);
        if (f.type == "counter" && !(s.value >= 0)) error(n, s.name + ": negative counter");
        f.samples.push_back(std::move(s));
    }

    bool labels(size_t n, std::string_view& line, Sample& s) {
        line.remove_prefix(1);
        std::set<std::string> seen;
        while (!line.starts_with('}')) {
            std::string key = take_name(line, false);
            if (key.empty() || !line.starts_with("=\"")) return error(n, "bad label"), false;
            if (!seen.insert(key).second) return error(n, "repeated label " + key), false;
            line.remove_prefix(2);
            std::string value;
            while (!line.empty() && line[0] != '"') {
                if (line[0] == '\n') return error(n, "newline in a label value"), false;
                if (line[0] == '\\') {
                    if (line.size() < 2) return error(n, "dangling backslash"), false;
                    char e = line[1];
                    if (e != '\\' && e != '"' && e != 'n')
                        return error(n, std::string("bad escape \\") + e), false;
                    value += e == 'n' ? '\n' : e;
                    line.remove_prefix(2);
                    continue;
                }
                value += line[0];
                line.remove_prefix(1);
            }
            if (line.empty()) return error(n, "unterminated label value"), false;
            line.remove_prefix(1);
            s.labels.emplace_back(key, value);
            if (line.starts_with(','))
                line.remove_prefix(1);
            else if (!line.starts_with('}'))
                return error(n, "expected , or } after a label"), false;
        }
        line.remove_prefix(1);
        return true;
    }

    void finish() {
        for (const auto& f : out_.families)
            if (f.type == "histogram") histogram(f);
    }

    void histogram(const Family& f) {
        double last = -1, last_le = -INFINITY, inf = -1, count = -1;
        bool sum = false;
        for (const auto& s : f.samples) {
            if (s.name == f.name + "_bucket") {
                double le = 0;
                if (!parse_float(s.label("le"), le))
                    error(0, f.name + ": bucket without a valid le");
                if (le <= last_le) error(0, f.name + ": le bounds not increasing");
                if (s.value < last) error(0, f.name + ": counts decrease at le=" + s.label("le"));
                last = s.value;
                last_le = le;
                if (s.label("le") == "+Inf") inf = s.value;
            } else if (s.name == f.name + "_count") {
                count = s.value;
            } else if (s.name == f.name + "_sum") {
                sum = true;
            } else {
                error(0, f.name + ": unexpected series " + s.name + " in a histogram");
            }
        }
        if (inf < 0) error(0, f.name + ": no le=\"+Inf\" bucket");
        if (count < 0 || !sum) error(0, f.name + ": _count or _sum missing");
        if (inf >= 0 && count >= 0 && inf != count) error(0, f.name + ": +Inf bucket != _count");
    }

    Parsed out_;
    std::set<std::string> typed_, closed_, series_;
    std::string current_;
};

}  // namespace

double Parsed::value(std::string_view name,
                     const std::vector<std::pair<std::string, std::string>>& labels,
                     double missing) const {
    for (const auto& f : families)
        for (const auto& s : f.samples)
            if (s.name == name && s.labels == labels) return s.value;
    return missing;
}

Parsed parse(std::string_view text) {
    return Checker().run(text);
}

}  // namespace promtext
