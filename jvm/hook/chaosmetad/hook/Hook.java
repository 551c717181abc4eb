package chaosmetad.hook;

import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one class the changed methods call. It is put on the bootstrap class path by the agent, so a method of any
 * class loader can see it: each changed method asks CALLS for its key and, when the rule is there, calls it (the
 * rule sleeps, throws, or hands back the value to return). Removing the key ends the fault at once, before the
 * original bytecode is even put back.
 */
public final class Hook {
  public static final ConcurrentHashMap<String, Callable<Object>> CALLS = new ConcurrentHashMap<String, Callable<Object>>();

  private Hook() {}
}
