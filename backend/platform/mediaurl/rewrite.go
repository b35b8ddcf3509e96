package mediaurl

import (
	"context"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// mediaFields are the response field names that hold stored media values.
// Services store keys or legacy values in them; clients get URLs. The
// convention is enforced by name so no handler can forget a field.
var mediaFields = map[protoreflect.Name]bool{
	"media_url": true, "thumbnail_url": true, "profile_picture": true, "cover_photo": true,
}

// Rewrite resolves every media field of m in place, through nested
// messages, lists and maps.
func (r *Resolver) Rewrite(m proto.Message) {
	if m != nil {
		r.rewrite(m.ProtoReflect())
	}
}

func (r *Resolver) rewrite(m protoreflect.Message) {
	p := planFor(m.Descriptor())
	for _, fd := range p.media {
		if s := m.Get(fd).String(); s != "" {
			if out := r.Resolve(s); out != s {
				m.Set(fd, protoreflect.ValueOfString(out))
			}
		}
	}
	for _, fd := range p.nested {
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				r.rewrite(l.Get(i).Message())
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				r.rewrite(mv.Message())
				return true
			})
		default:
			r.rewrite(v.Message())
		}
	}
}

// plan lists the fields of one message type that can hold media values:
// media strings, and message fields whose types hold some (transitively).
// Built once per type, so responses visit only those fields instead of
// ranging over every populated field of every nested message.
type plan struct {
	media, nested []protoreflect.FieldDescriptor
}

var plans sync.Map // protoreflect.FullName → *plan

func planFor(md protoreflect.MessageDescriptor) *plan {
	if p, ok := plans.Load(md.FullName()); ok {
		return p.(*plan)
	}
	p := &plan{}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if sub := messageOf(fd); sub != nil {
			if holdsMedia(sub, map[protoreflect.FullName]bool{}) {
				p.nested = append(p.nested, fd)
			}
		} else if isMediaField(fd) {
			p.media = append(p.media, fd)
		}
	}
	plans.Store(md.FullName(), p)
	return p
}

// messageOf is the message type a field holds (singly, in a list, or as a
// map value), or nil.
func messageOf(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	switch {
	case fd.IsMap():
		if fd.MapValue().Kind() == protoreflect.MessageKind {
			return fd.MapValue().Message()
		}
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		return fd.Message()
	}
	return nil
}

func isMediaField(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() && mediaFields[fd.Name()]
}

// holdsMedia reports whether md or a type reachable from it has a media
// field. A full search per call (no memo): a memo taken inside a cycle
// would be wrong, and plans are built once per type.
func holdsMedia(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if isMediaField(fd) {
			return true
		}
		if sub := messageOf(fd); sub != nil && holdsMedia(sub, seen) {
			return true
		}
	}
	return false
}

// Interceptor resolves the media fields of every response a tier sends,
// unary and streamed.
func (r *Resolver) Interceptor() connect.Interceptor { return interceptor{r} }

type interceptor struct{ r *Resolver }

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err == nil && res != nil {
			if m, ok := res.Any().(proto.Message); ok {
				i.r.Rewrite(m)
			}
		}
		return res, err
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, sendRewriter{conn, i.r})
	}
}

type sendRewriter struct {
	connect.StreamingHandlerConn
	r *Resolver
}

func (s sendRewriter) Send(msg any) error {
	if m, ok := msg.(proto.Message); ok {
		s.r.Rewrite(m)
	}
	return s.StreamingHandlerConn.Send(msg)
}
