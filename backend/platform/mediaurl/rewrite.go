package mediaurl

import (
	"context"

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
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				r.rewrite(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Kind() == protoreflect.MessageKind:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				r.rewrite(mv.Message())
				return true
			})
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
			r.rewrite(v.Message())
		case fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() && mediaFields[fd.Name()]:
			if s := v.String(); s != "" {
				if out := r.Resolve(s); out != s {
					m.Set(fd, protoreflect.ValueOfString(out))
				}
			}
		}
		return true
	})
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
