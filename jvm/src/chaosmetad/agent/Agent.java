package chaosmetad.agent;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.jar.JarFile;

import javassist.ByteArrayClassPath;
import javassist.ClassPool;
import javassist.CtClass;
import javassist.CtMethod;
import javassist.LoaderClassPath;

/**
 * chaosmetad's Java agent. chaosmetad loads it into a running JVM through HotSpot's attach mechanism
 * (`load instrument false <jar>=<command file>`), once per command: agentmain reads the command file (a properties
 * file), acts, and writes its answer next to it (<file>.reply, JSON). The command file is in a directory chaosmetad
 * made for that command alone (/tmp/chaosmetad-cmd-<uid>-<random>/command.properties, 0700, this JVM's user's while
 * the command runs), so no other user can read the command or plant an answer. The class stays loaded, so later commands
 * reuse the same agent and its rules.
 *
 * Commands: op=add (uid, kind=delay|exception|return, methods=class@method@value,…, deadline=epoch ms or 0),
 * op=remove (uid), op=status (uid). A rule changes each named method (all overloads, unless the method is given
 * with its descriptor, name(desc)) so that it first calls the rule: sleep `value` ms, throw (a RuntimeException
 * with `value` as message, or ExceptionClass:message), or return `value` converted to the method's return type.
 * The rule carries its deadline: after it, the rule does nothing, and a watchdog removes it and puts the original
 * bytecode back (retransform without the rule), so the JVM restores itself even if chaosmetad is gone.
 */
public final class Agent {
  private static Instrumentation inst;
  private static Map<String, Callable<Object>> calls;
  /** the hook's class file: javassist compiles the inserted code against it */
  private static byte[] hookClass;
  private static final Map<String, Rule> RULES = new ConcurrentHashMap<String, Rule>();
  /** class name -> the method targets of every rule on it */
  private static final Map<String, List<Target>> BY_CLASS = new ConcurrentHashMap<String, List<Target>>();
  private static final Map<String, String> FAILED = new ConcurrentHashMap<String, String>();

  private Agent() {}

  static final class Target {
    final String uid;
    final String className;
    final String method;
    final String descriptor;
    final String key;
    final boolean returns;
    volatile boolean applied;

    Target(String uid, String className, String method, String descriptor, String key, boolean returns) {
      this.uid = uid;
      this.className = className;
      this.method = method;
      this.descriptor = descriptor;
      this.key = key;
      this.returns = returns;
    }

    String shown() {
      return className + "." + method + descriptor;
    }
  }

  static final class Rule {
    final String uid;
    final String kind;
    final long deadline;
    final List<Target> targets = new ArrayList<Target>();
    final Set<Class<?>> classes = new LinkedHashSet<Class<?>>();

    Rule(String uid, String kind, long deadline) {
      this.uid = uid;
      this.kind = kind;
      this.deadline = deadline;
    }

    boolean live() {
      return System.currentTimeMillis() < deadline;
    }
  }

  public static void premain(String args, Instrumentation i) {
    agentmain(args, i);
  }

  public static synchronized void agentmain(String args, Instrumentation i) {
    String reply;
    try {
      if (inst == null) start(i);
      reply = handle(readProps(new File(args)));
    } catch (IllegalArgumentException e) {
      reply = "{\"ok\":false,\"bad_args\":true,\"error\":" + quote(String.valueOf(e.getMessage())) + "}";
    } catch (IllegalStateException e) {
      reply = error(String.valueOf(e.getMessage()));
    } catch (Throwable t) {
      reply = error(String.valueOf(t));
    }
    writeReply(new File(args + ".reply"), reply);
  }

  @SuppressWarnings("unchecked")
  private static void start(Instrumentation i) throws Exception {
    // the hook goes on the bootstrap class path: every class loader sees it (its jar is inside this one). The
    // temporary copy is deleted once appended (the JVM holds it open), so nothing is left in /tmp
    InputStream in = Agent.class.getResourceAsStream("/chaosmetad-hook.jar");
    if (in == null) throw new IllegalStateException("the agent jar has no chaosmetad-hook.jar");
    java.io.ByteArrayOutputStream jarBytes = new java.io.ByteArrayOutputStream();
    try {
      byte[] buf = new byte[8192];
      for (int n; (n = in.read(buf)) > 0; ) jarBytes.write(buf, 0, n);
    } finally {
      in.close();
    }
    java.util.zip.ZipInputStream zin = new java.util.zip.ZipInputStream(new ByteArrayInputStream(jarBytes.toByteArray()));
    for (java.util.zip.ZipEntry e; (e = zin.getNextEntry()) != null; ) {
      if (!e.getName().equals("chaosmetad/hook/Hook.class")) continue;
      java.io.ByteArrayOutputStream cls = new java.io.ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      for (int n; (n = zin.read(buf)) > 0; ) cls.write(buf, 0, n);
      hookClass = cls.toByteArray();
    }
    zin.close();
    if (hookClass == null) throw new IllegalStateException("chaosmetad-hook.jar has no Hook class");
    File hook = File.createTempFile("chaosmetad-hook-", ".jar");
    OutputStream out = new FileOutputStream(hook);
    try {
      out.write(jarBytes.toByteArray());
    } finally {
      out.close();
    }
    try {
      i.appendToBootstrapClassLoaderSearch(new JarFile(hook));
    } finally {
      hook.delete();
    }
    Class<?> h = Class.forName("chaosmetad.hook.Hook", true, null);
    calls = (Map<String, Callable<Object>>) h.getField("CALLS").get(null);
    i.addTransformer(new Transformer(), true);
    inst = i;
    Thread w = new Thread(new Runnable() {
      public void run() {
        for (;;) {
          try {
            Thread.sleep(100);
            for (Rule r : RULES.values()) if (!r.live()) remove(r.uid);
          } catch (Throwable t) {
            // keep watching
          }
        }
      }
    }, "chaosmetad-agent-watchdog");
    w.setDaemon(true);
    w.start();
  }

  /** The command file (chaosmetad's, a few hundred bytes): a regular file, not a link, at most 64 KiB. */
  private static Properties readProps(File f) throws Exception {
    java.nio.file.attribute.BasicFileAttributes a = java.nio.file.Files.readAttributes(f.toPath(),
        java.nio.file.attribute.BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
    if (!a.isRegularFile() || a.size() > 65536) throw new IllegalStateException("the command file " + f + " is not a regular file of at most 64 KiB");
    Properties p = new Properties();
    InputStream in = new FileInputStream(f);
    try {
      p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
    } finally {
      in.close();
    }
    return p;
  }

  private static String handle(Properties p) throws Exception {
    String op = p.getProperty("op", "");
    String uid = p.getProperty("uid", "");
    if (uid.isEmpty()) return error("no uid");
    if (op.equals("add")) return add(uid, p.getProperty("kind", ""), p.getProperty("methods", ""), Long.parseLong(p.getProperty("deadline", "0")));
    if (op.equals("remove")) {
      boolean had = remove(uid);
      return "{\"ok\":true,\"removed\":" + had + "}";
    }
    if (op.equals("status")) {
      Rule r = RULES.get(uid);
      int applied = 0;
      if (r != null) for (Target t : r.targets) if (t.applied && calls.containsKey(t.key)) applied++;
      return "{\"ok\":true,\"active\":" + (r != null && r.live() && applied > 0) + ",\"methods\":" + applied + ",\"rules\":" + RULES.size() + "}";
    }
    return error("unknown op " + op);
  }

  private static synchronized String add(String uid, String kind, String spec, long deadline) throws Exception {
    if (RULES.containsKey(uid)) return error("a rule " + uid + " is already in this JVM");
    if (!kind.equals("delay") && !kind.equals("exception") && !kind.equals("return")) return error("unknown kind " + kind);
    Rule rule = new Rule(uid, kind, deadline > 0 ? deadline : Long.MAX_VALUE);
    Map<String, Callable<Object>> planned = new java.util.LinkedHashMap<String, Callable<Object>>();
    int n = 0;
    for (String item : spec.split(",")) {
      item = item.trim();
      if (item.isEmpty()) continue;
      String[] parts = item.split("@", 3);
      if (parts.length < 3) throw new IllegalArgumentException("--method " + item + ": give class@method@value");
      String cls = parts[0], name = parts[1], value = parts[2], desc = null;
      int paren = name.indexOf('(');
      if (paren >= 0) {
        desc = name.substring(paren);
        name = name.substring(0, paren);
      }
      List<Class<?>> found = new ArrayList<Class<?>>();
      for (Class<?> c : inst.getAllLoadedClasses()) if (c.getName().equals(cls)) found.add(c);
      if (found.isEmpty()) return error("class " + cls + " is not loaded in this JVM (a class is changed once loaded: call it first, or check the name)");
      int matched = 0;
      for (Class<?> c : found) {
        if (!inst.isModifiableClass(c)) return error("class " + cls + " cannot be changed (the JVM says it is not modifiable)");
        List<String> names = new ArrayList<String>();
        for (Method m : c.getDeclaredMethods()) {
          names.add(m.getName());
          if (!m.getName().equals(name)) continue;
          String d = descriptor(m);
          if (desc != null && !desc.equals(d)) continue;
          if (Modifier.isAbstract(m.getModifiers()) || Modifier.isNative(m.getModifiers())) continue;
          String key = "chaosmetad:" + uid + ":" + (n++);
          Callable<Object> call;
          if (kind.equals("delay")) call = delay(value, rule);
          else if (kind.equals("exception")) call = thrower(value, c, rule);
          else {
            if (m.getReturnType() == void.class)
              throw new IllegalArgumentException(cls + "." + name + d + " returns void: there is no value to return (use methodexception or methoddelay)");
            call = returner(convert(value, m.getReturnType(), cls + "." + name + d), rule);
          }
          planned.put(key, call);
          rule.targets.add(new Target(uid, cls, name, d, key, kind.equals("return")));
          rule.classes.add(c);
          matched++;
        }
        if (matched == 0) {
          Collections.sort(names);
          return error("class " + cls + " has no method " + name + (desc != null ? desc : "") + " with a body (it has: " + String.join(", ", new LinkedHashSet<String>(names)) + ")");
        }
      }
    }
    if (rule.targets.isEmpty()) return error("no --method given");
    for (Target t : rule.targets) claimed(t);
    calls.putAll(planned);
    RULES.put(uid, rule);
    for (Target t : rule.targets) {
      List<Target> l = BY_CLASS.get(t.className);
      if (l == null) BY_CLASS.put(t.className, l = new java.util.concurrent.CopyOnWriteArrayList<Target>());
      l.add(t);
    }
    for (Class<?> c : rule.classes) FAILED.remove(c.getName());
    try {
      inst.retransformClasses(rule.classes.toArray(new Class<?>[0]));
    } catch (Throwable t) {
      remove(uid);
      return error("retransform failed: " + t);
    }
    StringBuilder failed = new StringBuilder();
    for (Class<?> c : rule.classes) if (FAILED.containsKey(c.getName())) failed.append(c.getName()).append(": ").append(FAILED.get(c.getName())).append("; ");
    List<String> shown = new ArrayList<String>();
    for (Target t : rule.targets) if (t.applied) shown.add(t.shown());
    if (failed.length() > 0 || shown.size() < rule.targets.size()) {
      remove(uid);
      return error("could not change " + (failed.length() > 0 ? failed.toString() : "every method"));
    }
    return "{\"ok\":true,\"classes\":" + rule.classes.size() + ",\"methods\":" + json(shown) + "}";
  }

  private static void claimed(Target t) {
    for (Rule r : RULES.values())
      for (Target o : r.targets)
        if (o.className.equals(t.className) && o.method.equals(t.method) && o.descriptor.equals(t.descriptor))
          throw new IllegalStateException(t.shown() + " already has the rule of experiment " + r.uid + " (recover it first)");
  }

  static synchronized boolean remove(String uid) {
    Rule r = RULES.remove(uid);
    if (r == null) return false;
    for (Target t : r.targets) {
      calls.remove(t.key);
      List<Target> l = BY_CLASS.get(t.className);
      if (l != null) l.remove(t);
    }
    List<Class<?>> back = new ArrayList<Class<?>>();
    for (Class<?> c : r.classes) if (inst.isModifiableClass(c)) back.add(c);
    try {
      if (!back.isEmpty()) inst.retransformClasses(back.toArray(new Class<?>[0]));
    } catch (Throwable t) {
      // the hook keys are gone already: the methods do nothing extra
    }
    return true;
  }

  /** The JVM descriptor of a method, e.g. (Ljava/lang/String;I)J */
  static String descriptor(Method m) {
    StringBuilder b = new StringBuilder("(");
    for (Class<?> p : m.getParameterTypes()) b.append(typeDesc(p));
    return b.append(')').append(typeDesc(m.getReturnType())).toString();
  }

  private static String typeDesc(Class<?> c) {
    if (c.isArray()) return c.getName().replace('.', '/');
    if (c == void.class) return "V";
    if (c == int.class) return "I";
    if (c == long.class) return "J";
    if (c == boolean.class) return "Z";
    if (c == byte.class) return "B";
    if (c == char.class) return "C";
    if (c == short.class) return "S";
    if (c == float.class) return "F";
    if (c == double.class) return "D";
    return "L" + c.getName().replace('.', '/') + ";";
  }

  private static Callable<Object> delay(String value, final Rule rule) {
    final long ms;
    try {
      ms = Long.parseLong(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("the delay of " + value + " is not a whole number of milliseconds");
    }
    return new Callable<Object>() {
      public Object call() throws Exception {
        if (rule.live()) Thread.sleep(ms);
        return null;
      }
    };
  }

  private static Callable<Object> thrower(String value, Class<?> near, final Rule rule) throws Exception {
    Class<? extends Throwable> type = RuntimeException.class;
    String message = value;
    int colon = value.indexOf(':');
    if (colon > 0 && value.substring(0, colon).matches("[A-Za-z_$][\\w$]*(\\.[A-Za-z_$][\\w$]*)+")) {
      String name = value.substring(0, colon);
      Class<?> c;
      try {
        c = Class.forName(name, false, near.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalArgumentException("exception class " + name + " is not found by the class loader of " + near.getName());
      }
      if (!Throwable.class.isAssignableFrom(c)) throw new IllegalArgumentException(name + " is not a Throwable");
      type = c.asSubclass(Throwable.class);
      message = value.substring(colon + 1);
    }
    final Constructor<? extends Throwable> withMessage = constructor(type, true);
    final Constructor<? extends Throwable> plain = withMessage == null ? constructor(type, false) : null;
    if (withMessage == null && plain == null) throw new IllegalArgumentException(type.getName() + " has no public (String) or () constructor");
    final String msg = message;
    return new Callable<Object>() {
      public Object call() throws Exception {
        if (!rule.live()) return null;
        Throwable t;
        try {
          t = withMessage != null ? withMessage.newInstance(msg) : plain.newInstance();
        } catch (Exception e) {
          t = new RuntimeException(msg);
        }
        Agent.<RuntimeException>sneaky(t);
        return null;
      }
    };
  }

  private static Constructor<? extends Throwable> constructor(Class<? extends Throwable> c, boolean withString) {
    try {
      return withString ? c.getConstructor(String.class) : c.getConstructor();
    } catch (NoSuchMethodException e) {
      return null;
    }
  }

  /** Throw any Throwable from call() (checked ones too: the changed method throws what it is told to). */
  @SuppressWarnings("unchecked")
  private static <T extends Throwable> void sneaky(Throwable t) throws T {
    throw (T) t;
  }

  private static Callable<Object> returner(final Object value, final Rule rule) {
    return new Callable<Object>() {
      public Object call() {
        return rule.live() ? new Object[] {value} : null;
      }
    };
  }

  /** The value as the method's return type: primitives and their boxes, String, char, or null for objects. */
  static Object convert(String v, Class<?> t, String where) {
    String s = v.trim();
    try {
      if (t == int.class || t == Integer.class) return nullable(s, t) ? null : Integer.valueOf(s);
      if (t == long.class || t == Long.class) return nullable(s, t) ? null : Long.valueOf(s);
      if (t == short.class || t == Short.class) return nullable(s, t) ? null : Short.valueOf(s);
      if (t == byte.class || t == Byte.class) return nullable(s, t) ? null : Byte.valueOf(s);
      if (t == double.class || t == Double.class) return nullable(s, t) ? null : Double.valueOf(s);
      if (t == float.class || t == Float.class) return nullable(s, t) ? null : Float.valueOf(s);
      if (t == boolean.class || t == Boolean.class) {
        if (nullable(s, t)) return null;
        if (s.equals("true") || s.equals("false")) return Boolean.valueOf(s);
        throw new NumberFormatException();
      }
      if (t == char.class || t == Character.class) {
        if (nullable(s, t)) return null;
        if (v.length() == 1) return Character.valueOf(v.charAt(0));
        throw new NumberFormatException();
      }
      if (t == String.class) return v.equals("null") ? null : v;
      if (!t.isPrimitive() && s.equals("null")) return null;
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException("cannot return " + v + " from " + where + " (it returns " + t.getName() + ")");
  }

  private static boolean nullable(String s, Class<?> t) {
    if (!s.equals("null")) return false;
    if (t.isPrimitive()) throw new NumberFormatException();
    return true;
  }

  static final class Transformer implements ClassFileTransformer {
    public byte[] transform(ClassLoader loader, String internal, Class<?> redefined, ProtectionDomain pd, byte[] bytes) {
      if (internal == null) return null;
      String name = internal.replace('/', '.');
      List<Target> ts = BY_CLASS.get(name);
      if (ts == null || ts.isEmpty()) return null; // no rule: the original bytecode
      try {
        ClassPool pool = new ClassPool(true);
        if (loader != null) pool.appendClassPath(new LoaderClassPath(loader));
        pool.appendClassPath(new ByteArrayClassPath("chaosmetad.hook.Hook", hookClass));
        CtClass cc = pool.makeClass(new ByteArrayInputStream(bytes), false);
        for (Target t : ts) {
          for (CtMethod m : cc.getDeclaredMethods()) {
            if (!m.getName().equals(t.method) || !m.getSignature().equals(t.descriptor)) continue;
            String get = "java.util.concurrent.Callable c = (java.util.concurrent.Callable) chaosmetad.hook.Hook.CALLS.get(\"" + t.key + "\");";
            m.insertBefore(t.returns
                ? "{ " + get + " if (c != null) { java.lang.Object[] v = (java.lang.Object[]) c.call(); if (v != null) return ($r) v[0]; } }"
                : "{ " + get + " if (c != null) { c.call(); } }");
            t.applied = true;
          }
        }
        byte[] out = cc.toBytecode();
        cc.detach();
        return out;
      } catch (Throwable e) {
        FAILED.put(name, String.valueOf(e));
        return null;
      }
    }
  }

  private static String error(String message) {
    return "{\"ok\":false,\"error\":" + quote(message) + "}";
  }

  private static String json(List<String> l) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < l.size(); i++) b.append(i > 0 ? "," : "").append(quote(l.get(i)));
    return b.append(']').toString();
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  /**
   * The answer, next to the command file (in the directory chaosmetad made for this command, its user's alone while
   * the command runs): written to a new file (CREATE_NEW: never through a link, never into a FIFO someone put there)
   * and renamed into place.
   */
  private static void writeReply(File f, String text) {
    try {
      java.nio.file.Path tmp = new File(f.getPath() + ".tmp").toPath();
      OutputStream out = java.nio.file.Files.newOutputStream(tmp, java.nio.file.StandardOpenOption.CREATE_NEW,
          java.nio.file.StandardOpenOption.WRITE, java.nio.file.LinkOption.NOFOLLOW_LINKS);
      try {
        out.write(text.getBytes(StandardCharsets.UTF_8));
      } finally {
        out.close();
      }
      if (!tmp.toFile().renameTo(f)) throw new IllegalStateException("rename");
    } catch (Throwable t) {
      // chaosmetad sees no reply and says so
    }
  }
}
