// Renders every case of corpus.json with Apache Velocity (the Debian package's version) and
// writes golden.json: for each case id, the exact output or the error Velocity raised.
//
// The context mirrors how Genesys Cloud presents data to Data Action templates, as far as
// docs/research/velocity.md could establish it:
//   input        a java.util.LinkedHashMap parsed with Jackson from the case's input object
//                (String, Integer/Long/BigInteger, Double, Boolean, LinkedHashMap, ArrayList;
//                JSON null -> a null value, which Velocity treats as missing), plus
//                input.rawRequest = the input serialised as compact JSON (unless given)
//   credentials  a LinkedHashMap<String, String>
//   rawResult    a java.lang.String: the raw response body text
//   <name>       one java.lang.String per translation: the JSON text of the JSONPath result
//   esc          EscapeTool (velocity-tools) + the Genesys-only methods below
//   math         MathTool (velocity-tools)
//   encoding     Genesys-only: base64
//   successTemplateUtils  Genesys-only: firstFromArray
// Genesys-only tools are implemented from Genesys's documentation and from how Genesys's own
// exported actions use them; the cases that call them carry "oracle": "genesys-docs".
//
// Usage: java -cp <jars>:<dir> Oracle corpus.json golden.json

import java.io.File;
import java.io.StringWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.tools.generic.EscapeTool;
import org.apache.velocity.tools.generic.MathTool;

public class Oracle {
    static final ObjectMapper JSON = new ObjectMapper();

    /** $esc: velocity-tools' EscapeTool plus the methods Genesys documents that it lacks. */
    public static class GenesysEscapeTool extends EscapeTool {
        /**
         * Genesys: "Use esc.jsonString to escape strings inside JSON bodies". The exact escape
         * set is not documented; this escapes what every JSON escaper escapes (quote, backslash,
         * control characters). Corpus cases stay within inputs where JSON escapers agree.
         */
        public String jsonString(Object o) {
            if (o == null) return null;
            String s = String.valueOf(o);
            StringBuilder b = new StringBuilder(s.length() + 8);
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"': b.append("\\\""); break;
                    case '\\': b.append("\\\\"); break;
                    case '\n': b.append("\\n"); break;
                    case '\r': b.append("\\r"); break;
                    case '\t': b.append("\\t"); break;
                    case '\b': b.append("\\b"); break;
                    case '\f': b.append("\\f"); break;
                    default:
                        if (c < 0x20) b.append(String.format("\\u%04X", (int) c));
                        else b.append(c);
                }
            }
            return b.toString();
        }

        /** Genesys: "$esc.url(): Alias for the $esc.urlFormEncode" -> the same encoding as url(). */
        public String urlFormEncode(Object o) {
            return url(o);
        }

        /**
         * Genesys: percent-encoding for URL paths/queries and x-www-form-urlencoded bodies;
         * unlike urlFormEncode, a space is not "+". Assumed: UTF-8, upper-case hex, everything
         * but ALPHA / DIGIT / "-" / "." / "_" / "~" encoded. Cases avoid the characters whose
         * treatment differs between common encoders (! * ' ( ) ~).
         */
        public String uriEncode(Object o) {
            if (o == null) return null;
            byte[] bytes = String.valueOf(o).getBytes(StandardCharsets.UTF_8);
            StringBuilder b = new StringBuilder();
            for (byte x : bytes) {
                int c = x & 0xff;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '-' || c == '.' || c == '_' || c == '~') {
                    b.append((char) c);
                } else {
                    b.append('%').append(String.format("%02X", c));
                }
            }
            return b.toString();
        }
    }

    /** $encoding: Genesys-only. base64 of the UTF-8 bytes, standard alphabet, padded. */
    public static class EncodingTool {
        public String base64(Object o) {
            if (o == null) return null;
            return Base64.getEncoder().encodeToString(String.valueOf(o).getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * $successTemplateUtils: Genesys-only. firstFromArray(jsonArrayText[, defaultJsonText]):
     * the JSON text of the array's first element; the default when the array is empty.
     */
    public static class SuccessTemplateUtils {
        public String firstFromArray(String json) throws Exception {
            return firstFromArray(json, null);
        }

        public String firstFromArray(String json, String dflt) throws Exception {
            JsonNode n = JSON.readTree(json);
            if (n != null && n.isArray() && n.size() > 0) return JSON.writeValueAsString(n.get(0));
            if (dflt != null) return dflt;
            throw new IllegalArgumentException("firstFromArray: empty array and no default (behaviour undocumented)");
        }
    }

    static VelocityEngine engine() throws Exception {
        Properties p = new Properties();
        // The only non-default setting: no velocity.log file. It changes no rendering.
        p.setProperty("runtime.log.logsystem.class", "org.apache.velocity.runtime.log.NullLogChute");
        VelocityEngine e = new VelocityEngine();
        e.init(p);
        return e;
    }

    @SuppressWarnings("unchecked")
    static VelocityContext context(JsonNode ctx) throws Exception {
        VelocityContext vc = new VelocityContext();
        Map<String, Object> input = new LinkedHashMap<>();
        if (ctx.has("input") && ctx.get("input").isObject()) {
            input = JSON.convertValue(ctx.get("input"), LinkedHashMap.class);
            if (!input.containsKey("rawRequest")) {
                input.put("rawRequest", JSON.writeValueAsString(ctx.get("input")));
            }
        }
        vc.put("input", input);
        Map<String, Object> creds = new LinkedHashMap<>();
        if (ctx.has("credentials") && ctx.get("credentials").isObject()) {
            creds = JSON.convertValue(ctx.get("credentials"), LinkedHashMap.class);
        }
        vc.put("credentials", creds);
        if (ctx.has("rawResult") && !ctx.get("rawResult").isNull()) {
            JsonNode r = ctx.get("rawResult");
            vc.put("rawResult", r.isTextual() ? r.asText() : JSON.writeValueAsString(r));
        }
        if (ctx.has("translations") && ctx.get("translations").isObject()) {
            var it = ctx.get("translations").fields();
            while (it.hasNext()) {
                var e = it.next();
                // A translation value is the JSON text of the JSONPath result, as a String.
                vc.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText()
                        : JSON.writeValueAsString(e.getValue()));
            }
        }
        vc.put("esc", new GenesysEscapeTool());
        vc.put("math", new MathTool());
        vc.put("encoding", new EncodingTool());
        vc.put("successTemplateUtils", new SuccessTemplateUtils());
        return vc;
    }

    public static void main(String[] args) throws Exception {
        JsonNode corpus = JSON.readTree(new File(args[0]));
        JsonNode cases = corpus.isArray() ? corpus : corpus.get("cases");
        Map<String, Object> results = new LinkedHashMap<>();
        for (JsonNode c : cases) {
            String id = c.get("id").asText();
            if (results.containsKey(id)) throw new IllegalStateException("duplicate id " + id);
            Map<String, Object> r = new LinkedHashMap<>();
            try {
                VelocityContext vc = context(c.has("context") ? c.get("context") : JSON.createObjectNode());
                StringWriter w = new StringWriter();
                // A fresh engine per case: macros defined by one case (Velocity keeps
                // them engine-wide) must not change how another renders.
                VelocityEngine engine = engine();
                engine.evaluate(vc, w, "template", c.get("template").asText());
                r.put("output", w.toString());
            } catch (Throwable t) {
                Map<String, Object> err = new LinkedHashMap<>();
                err.put("class", t.getClass().getName());
                err.put("message", t.getMessage());
                Throwable cause = t.getCause();
                if (cause != null && cause != t) {
                    err.put("cause", cause.getClass().getName() + ": " + cause.getMessage());
                }
                r.put("error", err);
            }
            results.put(id, r);
        }

        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("velocity", org.apache.velocity.Template.class.getPackage().getImplementationVersion() != null
                ? org.apache.velocity.Template.class.getPackage().getImplementationVersion() : "see regenerate.sh");
        meta.put("velocityJar", jarOf(org.apache.velocity.Template.class));
        meta.put("velocityToolsJar", jarOf(EscapeTool.class));
        meta.put("jacksonJar", jarOf(ObjectMapper.class));
        meta.put("java", System.getProperty("java.version"));
        meta.put("settings", "VelocityEngine defaults (runtime.references.strict=false, directive.set.null.allowed=false, "
                + "directive.foreach.counter.name=velocityCount, directive.foreach.counter.initial.value=1, "
                + "input.encoding=ISO-8859-1 (irrelevant: templates are passed as Java Strings)); only change: "
                + "runtime.log.logsystem.class=NullLogChute. Templates rendered with VelocityEngine.evaluate(ctx, writer, \"template\", text), a fresh engine per case.");
        meta.put("cases", results.size());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("meta", meta);
        out.put("results", results);

        DefaultPrettyPrinter pp = new DefaultPrettyPrinter();
        pp.indentArraysWith(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
        pp.indentObjectsWith(new DefaultIndenter("  ", "\n"));
        JSON.configure(SerializationFeature.INDENT_OUTPUT, true);
        String text = JSON.writer(pp).writeValueAsString(out) + "\n";
        java.nio.file.Files.write(new File(args[1]).toPath(), text.getBytes(StandardCharsets.UTF_8));
        System.out.println("rendered " + results.size() + " cases into " + args[1]);
    }

    static String jarOf(Class<?> c) {
        try {
            String p = c.getProtectionDomain().getCodeSource().getLocation().getPath();
            return new File(p).getCanonicalPath();
        } catch (Exception e) {
            return "?";
        }
    }
}
