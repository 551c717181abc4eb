import java.util.concurrent.atomic.AtomicLong;

/**
 * The JVM the JVM-fault tests change: it calls its methods in a loop, every 10 ms, times each call of work(), and
 * prints one JSON line per 250 ms window on stdout: calls, mean latency, exceptions (and the last message), what
 * value() and name() returned, and when the window began (epoch ms: its calls all began after that). It never restarts: the test reads the effect and then the recovery from it.
 */
public class Loop {
  static final AtomicLong counter = new AtomicLong();

  public static void work() {
    counter.incrementAndGet();
  }

  public static int value(int x) {
    return x + 1;
  }

  public static String name() {
    return "real";
  }

  public static void main(String[] args) throws Exception {
    long windowStart = System.nanoTime();
    long windowMs = System.currentTimeMillis();
    long calls = 0, nanos = 0, exceptions = 0;
    String lastException = "";
    int value = 0;
    String name = "";
    for (;;) {
      long t0 = System.nanoTime();
      try {
        work();
      } catch (Throwable t) {
        exceptions++;
        lastException = t.getClass().getName() + ": " + t.getMessage();
      }
      nanos += System.nanoTime() - t0;
      calls++;
      try {
        value = value(1);
        name = name();
      } catch (Throwable t) {
        // counted through work()
      }
      long now = System.nanoTime();
      if (now - windowStart >= 250_000_000L) {
        System.out.println("{\"start\":" + windowMs + ",\"calls\":" + calls + ",\"avg_ms\":" + (nanos / 1e6 / calls) + ",\"exceptions\":" + exceptions
            + ",\"last_exception\":\"" + lastException.replace("\"", "'") + "\",\"value\":" + value + ",\"name\":\""
            + (name == null ? "null" : name) + "\"}");
        windowStart = now;
        windowMs = System.currentTimeMillis();
        calls = nanos = exceptions = 0;
        lastException = "";
      }
      Thread.sleep(10);
    }
  }
}
