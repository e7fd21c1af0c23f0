using EncFs.Core.Backing;

namespace EncFs.Fuse.Session;

/// <summary>
/// The kernel's node ids mapped to volume paths. A node lives while the kernel holds lookups on
/// it or it has live children (their paths go through it); renames move one node and its whole
/// subtree follows. Unlinked or replaced nodes are detached: path operations on them fail with
/// ENOENT, handle operations go on.
/// </summary>
internal sealed class NodeTable
{
    public const ulong RootId = 1;
    private readonly Dictionary<ulong, Node> _byId = [];
    private readonly Dictionary<(ulong Parent, string Name), Node> _byName = [];
    private readonly Lock _lock = new();
    private ulong _nextId = RootId + 1;

    public NodeTable()
    {
        Root = new Node(RootId, string.Empty, null) { Lookups = 1 };
        _byId[RootId] = Root;
    }

    public Node Root { get; }

    public sealed class Node(ulong id, string name, Node? parent)
    {
        public ulong Id { get; } = id;

        public string Name { get; set; } = name;

        public Node? Parent { get; set; } = parent;

        public long Lookups { get; set; }

        public int Children { get; set; }

        public bool Detached { get; set; }
    }

    public string PathOf(ulong id)
    {
        lock (_lock)
        {
            return PathOf(Get(id));
        }
    }

    public string ChildPath(ulong parentId, string name)
    {
        lock (_lock)
        {
            var parent = PathOf(Get(parentId));
            return parent == "/" ? "/" + name : parent + "/" + name;
        }
    }

    /// <summary>The node for a child, created on first lookup; counts one kernel lookup.</summary>
    public ulong Remember(ulong parentId, string name)
    {
        lock (_lock)
        {
            if (!_byName.TryGetValue((parentId, name), out var node))
            {
                var parent = Get(parentId);
                node = new Node(_nextId++, name, parent);
                parent.Children++;
                _byId[node.Id] = node;
                _byName[(parentId, name)] = node;
            }

            node.Lookups++;
            return node.Id;
        }
    }

    public void Forget(ulong id, ulong count)
    {
        lock (_lock)
        {
            if (id == RootId || !_byId.TryGetValue(id, out var node))
            {
                return;
            }

            node.Lookups -= (long)count;
            Collect(node);
        }
    }

    /// <summary>The entry at (parent, name) is gone: its node, if any, is detached.</summary>
    public void Removed(ulong parentId, string name)
    {
        lock (_lock)
        {
            if (_byName.Remove((parentId, name), out var node))
            {
                node.Detached = true;
                Collect(node);
            }
        }
    }

    public void Renamed(ulong oldParent, string oldName, ulong newParent, string newName, bool exchange)
    {
        lock (_lock)
        {
            _byName.Remove((oldParent, oldName), out var moving);
            _byName.Remove((newParent, newName), out var displaced);
            if (moving is not null)
            {
                Move(moving, newParent, newName);
            }

            if (displaced is not null)
            {
                if (exchange)
                {
                    Move(displaced, oldParent, oldName);
                }
                else
                {
                    displaced.Detached = true;
                    Collect(displaced);
                }
            }
        }
    }

    private void Move(Node node, ulong parentId, string name)
    {
        var parent = Get(parentId);
        if (!ReferenceEquals(node.Parent, parent))
        {
            node.Parent!.Children--;
            var old = node.Parent;
            parent.Children++;
            node.Parent = parent;
            Collect(old);
        }

        node.Name = name;
        _byName[(parentId, name)] = node;
    }

    private void Collect(Node node)
    {
        while (node.Id != RootId && node.Lookups <= 0 && node.Children == 0)
        {
            _byId.Remove(node.Id);
            if (!node.Detached)
            {
                _byName.Remove((node.Parent!.Id, node.Name));
            }

            var parent = node.Parent!;
            parent.Children--;
            node = parent;
        }
    }

    private Node Get(ulong id) =>
        _byId.TryGetValue(id, out var node) ? node : throw new FsException(Errno.ENOENT, $"unknown node {id}");

    private static string PathOf(Node node)
    {
        if (node.Id == RootId)
        {
            return "/";
        }

        var parts = new Stack<string>();
        for (var n = node; n.Id != RootId; n = n.Parent!)
        {
            if (n.Detached)
            {
                throw new FsException(Errno.ENOENT, "the entry was removed");
            }

            parts.Push(n.Name);
        }

        return "/" + string.Join('/', parts);
    }
}
